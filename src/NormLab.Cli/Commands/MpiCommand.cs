using NormLab.Distributed;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab mpi</c>: checks the MPI setup. Run as <c>mpirun -np P normlab mpi</c>: every rank runs
/// all-reduce on float64 and float32 buffers, a broadcast and a barrier and verifies the results; rank 0
/// reports. Without mpirun it reports a single-process job. <c>--repeat R</c> also times R all-reduce calls.
/// </summary>
internal static class MpiCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("mpi", args, new HashSet<string>());
        long length = cl.GetLong("length") ?? 1000;
        long repeat = cl.GetLong("repeat") ?? 0;
        cl.EnsureAllUsed();
        if (length < 1 || length > 1L << 28) throw new UsageException($"mpi: --length ({length}) must be in [1, 2^28]");
        if (repeat < 0 || repeat > 1_000_000) throw new UsageException($"mpi: --repeat ({repeat}) must be in [0, 1000000]");
        var world = Communicator.World;
        var (failures, time) = DistributedRun.Guard(world, "mpi", () =>
            (MpiSelfTest.Run(world, (int)length), repeat > 0 ? MpiSelfTest.AllReduceTime(world, (int)length, (int)repeat) : TimeSpan.Zero));
        if (world.IsRoot)
        {
            string library = world is MpiCommunicator m ? $"Open MPI ({m.Library}, timeout {m.Timeout.TotalSeconds:0.###} s)" : "no MPI (single process)";
            stdout.WriteLine(failures == 0
                ? $"mpi: {world.Size} rank(s), {library}: all-reduce float64/float32, broadcast and barrier correct on every rank"
                : $"mpi: {world.Size} rank(s), {library}: {failures} rank(s) saw wrong results");
            if (repeat > 0)
                stdout.WriteLine($"mpi: all-reduce of {length} float32 values: {time.TotalMilliseconds * 1000:F1} us per call (mean of {repeat}), {length * 4.0 / time.TotalSeconds / 1e9:F2} GB/s");
        }
        return failures == 0 ? 0 : 1;
    }
}
