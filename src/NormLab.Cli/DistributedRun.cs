using NormLab.Distributed;

namespace NormLab.Cli;

/// <summary>Runs a command's work in a multi-process job so that a failure on one rank ends the whole job at once.</summary>
internal static class DistributedRun
{
    /// <summary>
    /// Runs <paramref name="work"/>. In a job of several processes, an exception is written as one line
    /// ("normlab COMMAND: rank r/P: message") and the job is aborted, so the other ranks do not wait for
    /// this one in their next collective; in a single process it propagates as usual.
    /// </summary>
    public static T Guard<T>(Communicator world, string command, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (Exception e) when (world is MpiCommunicator { Size: > 1 } mpi && e is not OperationCanceledException)
        {
            mpi.Abort(Cli.OneLine($"normlab {command}: {mpi}: {e.Message}"));
            throw;
        }
    }
}
