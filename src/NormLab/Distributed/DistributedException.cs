namespace NormLab.Distributed;

/// <summary>
/// A problem setting up multi-process execution: MPI's library is missing, the process was not started
/// by an MPI launcher, or MPI failed to initialize. The message is one line that says what to do.
/// </summary>
public sealed class DistributedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public DistributedException(string message) : base(message) { }
}
