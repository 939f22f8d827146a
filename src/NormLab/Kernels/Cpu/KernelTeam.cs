using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// The kernels' own worker threads: the calling thread plus <c>Threads − 1</c> dedicated workers run one
/// self-scheduling job at a time. A worker that finishes a job spins for <see cref="SpinTime"/> before it
/// sleeps, so the passes of one layer and the layers of one step find it awake.
/// </summary>
/// <remarks>
/// Measured on a 2-vCPU VM with <c>normlab bench --only pn</c>: on .NET's thread pool (<c>Parallel.For</c>),
/// 36–47 of about 180 fused calls ran on the calling thread alone, because the pool's worker had gone to
/// sleep and was woken too late (the scheduler reported 18,000 switches of pool workers in a 2.5 s run,
/// with waits of up to 8 ms). A job's <c>part(p)</c> must take its work from a shared counter, so that
/// any subset of participants finishes it: the caller does all of it when no worker comes in time. Jobs
/// from a second thread while one runs, and jobs started from inside a job, run on the calling thread.
/// </remarks>
internal static class KernelTeam
{
    /// <summary>How long a worker spins for the next job before it sleeps.</summary>
    public static readonly TimeSpan SpinTime = TimeSpan.FromMicroseconds(200);

    private static readonly long SpinTicks = (long)(SpinTime.TotalSeconds * Stopwatch.Frequency);
    private static readonly object Gate = new();
    private static readonly List<Worker> Workers = new();
    private static Job? _current;
    private static long _generation;

    [ThreadStatic]
    private static bool _inJob;

    /// <summary>
    /// Runs <paramref name="part"/>(p) on the caller (p = 0) and on up to <paramref name="participants"/> − 1
    /// workers (p ≥ 1, each p at most once), and returns when every started part has returned. Rethrows the
    /// first exception of any part.
    /// </summary>
    public static void Run(int participants, Action<int> part)
    {
        if (participants <= 1 || _inJob || !Monitor.TryEnter(Gate))
        {
            part(0);
            return;
        }
        try
        {
            EnsureWorkers(participants - 1);
            var job = new Job(part, participants);
            Volatile.Write(ref _current, job);
            Interlocked.Increment(ref _generation);
            for (int k = 0; k < participants - 1; k++) Workers[k].Wake();
            _inJob = true;
            try
            {
                part(0);
            }
            catch (Exception e)
            {
                job.Fail(e);
            }
            finally
            {
                _inJob = false;
            }
            job.Close();
            job.Error?.Throw();
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void EnsureWorkers(int count)
    {
        while (Workers.Count < count) Workers.Add(new Worker(Workers.Count + 1));
    }

    /// <summary>One job: who may still join, how many are inside it, and the first failure.</summary>
    private sealed class Job(Action<int> part, int participants)
    {
        private int _active;
        private int _closed;

        public ExceptionDispatchInfo? Error { get; private set; }

        /// <summary>Runs participant <paramref name="p"/>'s part unless the job is closed or has no place for it.</summary>
        public void Join(int p)
        {
            if (p >= participants) return;
            Interlocked.Increment(ref _active);
            try
            {
                if (Volatile.Read(ref _closed) == 0) part(p);
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }

        public void Fail(Exception e)
        {
            lock (this) Error ??= ExceptionDispatchInfo.Capture(e);
        }

        /// <summary>Lets no one else start, then waits for the parts still running.</summary>
        public void Close()
        {
            Interlocked.Exchange(ref _closed, 1);
            var wait = new SpinWait();
            while (Volatile.Read(ref _active) != 0) wait.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>A dedicated thread that joins each new job, spinning between jobs for <see cref="SpinTime"/> and then sleeping.</summary>
    private sealed class Worker
    {
        private readonly int _index;
        private readonly SemaphoreSlim _signal = new(0);
        private int _sleeping;

        public Worker(int index)
        {
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"NormLab kernel {index}" }.Start();
        }

        /// <summary>Wakes the worker if it sleeps.</summary>
        public void Wake()
        {
            if (Interlocked.Exchange(ref _sleeping, 0) == 1) _signal.Release();
        }

        private void Loop()
        {
            _inJob = true;
            long seen = Volatile.Read(ref _generation);
            while (true)
            {
                seen = WaitForNext(seen);
                Volatile.Read(ref _current)?.Join(_index);
            }
        }

        /// <summary>Spins, then sleeps, until the generation moves past <paramref name="seen"/>; returns the new one.</summary>
        private long WaitForNext(long seen)
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            long generation;
            while ((generation = Volatile.Read(ref _generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() < until)
                {
                    Thread.SpinWait(16);
                    continue;
                }
                Volatile.Write(ref _sleeping, 1);
                Interlocked.MemoryBarrier();
                if ((generation = Volatile.Read(ref _generation)) != seen)
                {
                    // A job arrived while going to sleep: if its caller already took the flag, it also released the signal.
                    if (Interlocked.Exchange(ref _sleeping, 0) == 0) _signal.Wait();
                    return generation;
                }
                _signal.Wait();
                until = Stopwatch.GetTimestamp() + SpinTicks;
            }
            return generation;
        }
    }
}
