namespace NormLab.Distributed;

/// <summary>
/// How a global batch is split among the processes of a job: contiguous shards along dim 0, the first
/// n mod P ranks taking one sample more, so rank order concatenates back to the global batch.
/// </summary>
public static class Shards
{
    /// <summary>The (offset, length) of rank <paramref name="rank"/>'s shard of <paramref name="n"/> samples over <paramref name="size"/> ranks.</summary>
    /// <exception cref="ArgumentException">n negative, size below 1 or rank outside [0, size).</exception>
    public static (long Offset, long Length) Of(long n, int size, int rank)
    {
        if (n < 0) throw new ArgumentException($"n ({n}) must be >= 0", nameof(n));
        if (size < 1) throw new ArgumentException($"size ({size}) must be at least 1", nameof(size));
        if (rank < 0 || rank >= size) throw new ArgumentException($"rank ({rank}) must be in [0, {size})", nameof(rank));
        long q = n / size, extra = n % size;
        return (rank * q + Math.Min(rank, extra), q + (rank < extra ? 1 : 0));
    }

    /// <summary>The shard of <paramref name="world"/>'s rank.</summary>
    public static (long Offset, long Length) Of(long n, Communicator world) => Of(n, world.Size, world.Rank);
}
