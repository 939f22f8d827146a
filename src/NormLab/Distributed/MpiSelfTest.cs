namespace NormLab.Distributed;

/// <summary>
/// A self-test of a communicator's collectives that every rank runs: all-reduce on float64 and float32
/// buffers (exact integer sums), a broadcast from the last rank and a barrier.
/// </summary>
public static class MpiSelfTest
{
    /// <summary>Runs the test on every rank; returns how many ranks saw a wrong result (the same number on every rank).</summary>
    /// <param name="world">The job.</param>
    /// <param name="length">Elements per buffer, ≥ 1.</param>
    public static int Run(Communicator world, int length)
    {
        if (length < 1) throw new ArgumentException($"length ({length}) must be at least 1", nameof(length));
        long p = world.Size, rank = world.Rank, ranks = p * (p + 1) / 2;
        var doubles = new double[length];
        var floats = new float[length];
        for (int i = 0; i < length; i++)
        {
            doubles[i] = (rank + 1) * (i % 7 + 1);
            floats[i] = (rank + 1) * (i % 5 + 1);
        }
        world.AllReduceSum(doubles);
        world.AllReduceSum(floats);
        bool ok = true;
        for (int i = 0; i < length; i++)
            ok &= doubles[i] == ranks * (i % 7 + 1) && floats[i] == ranks * (i % 5 + 1);
        var bytes = new byte[length];
        int root = world.Size - 1;
        if (world.Rank == root)
            for (int i = 0; i < length; i++) bytes[i] = (byte)(i * 31 + 7);
        world.Broadcast<byte>(bytes, root);
        for (int i = 0; i < length; i++) ok &= bytes[i] == (byte)(i * 31 + 7);
        world.Barrier();
        return (int)world.Sum(ok ? 0 : 1);
    }

    /// <summary>
    /// The mean time of one all-reduce of <paramref name="length"/> float32 values over
    /// <paramref name="repeat"/> calls after a warm-up call (the same on every rank: rank 0's).
    /// </summary>
    public static TimeSpan AllReduceTime(Communicator world, int length, int repeat)
    {
        if (length < 1) throw new ArgumentException($"length ({length}) must be at least 1", nameof(length));
        if (repeat < 1) throw new ArgumentException($"repeat ({repeat}) must be at least 1", nameof(repeat));
        var buffer = new float[length];
        world.AllReduceSum(buffer);
        world.Barrier();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < repeat; i++) world.AllReduceSum(buffer);
        Span<double> seconds = stackalloc double[] { world.IsRoot ? clock.Elapsed.TotalSeconds / repeat : 0 };
        world.AllReduceSum(seconds);
        return TimeSpan.FromSeconds(seconds[0]);
    }
}
