using NormLab.Distributed;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab mpi</c>: checks the MPI setup. Run as <c>mpirun -np P normlab mpi</c>: every rank runs
/// all-reduce on float64 and float32 buffers, a broadcast and a barrier and verifies the results; rank 0
/// reports. Without mpirun it reports a single-process job.
/// </summary>
internal static class MpiCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("mpi", args, new HashSet<string>());
        long length = cl.GetLong("length") ?? 1000;
        cl.EnsureAllUsed();
        if (length < 1 || length > 1L << 28) throw new UsageException($"mpi: --length ({length}) must be in [1, 2^28]");
        var world = Communicator.World;
        var failures = DistributedRun.Guard(world, "mpi", () => MpiSelfTest.Run(world, (int)length));
        if (world.IsRoot)
        {
            string library = world is MpiCommunicator m ? $"Open MPI ({m.Library}, timeout {m.Timeout.TotalSeconds:0.###} s)" : "no MPI (single process)";
            stdout.WriteLine(failures == 0
                ? $"mpi: {world.Size} rank(s), {library}: all-reduce float64/float32, broadcast and barrier correct on every rank"
                : $"mpi: {world.Size} rank(s), {library}: {failures} rank(s) saw wrong results");
        }
        return failures == 0 ? 0 : 1;
    }
}
