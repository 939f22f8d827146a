using System.Diagnostics;

namespace NormLab.Distributed;

/// <summary>
/// A deadline around blocking MPI calls: <see cref="Arm"/> before a call, <see cref="Disarm"/> after it;
/// a background thread calls the expiry action (which ends the process) when an armed call outlives the
/// timeout. A blocked MPI call cannot be interrupted, so ending the process is the only way out.
/// </summary>
internal sealed class CollectiveWatchdog
{
    private readonly long _timeoutTicks;
    private readonly Action<string> _expired;
    private long _deadline;
    private string _what = "";
    private Thread? _thread;

    public CollectiveWatchdog(TimeSpan timeout, Action<string> expired)
    {
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _expired = expired;
    }

    /// <summary>Starts the deadline for the call <paramref name="what"/>.</summary>
    public void Arm(string what)
    {
        _what = what;
        Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + _timeoutTicks);
        if (_thread is null)
        {
            _thread = new Thread(Watch) { IsBackground = true, Name = "normlab-mpi-watchdog" };
            _thread.Start();
        }
    }

    /// <summary>Clears the deadline.</summary>
    public void Disarm() => Volatile.Write(ref _deadline, 0);

    private void Watch()
    {
        long poll = Math.Clamp(_timeoutTicks / 10, Stopwatch.Frequency / 100, Stopwatch.Frequency / 5);
        while (true)
        {
            Thread.Sleep(TimeSpan.FromSeconds((double)poll / Stopwatch.Frequency));
            long deadline = Volatile.Read(ref _deadline);
            if (deadline != 0 && Stopwatch.GetTimestamp() > deadline)
            {
                _expired(_what);
                return;
            }
        }
    }
}
