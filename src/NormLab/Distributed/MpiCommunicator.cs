using System.Globalization;
using System.Runtime.InteropServices;

namespace NormLab.Distributed;

/// <summary>
/// The processes of an <c>mpirun</c> launch (<c>MPI_COMM_WORLD</c>) over Open MPI, through
/// <see cref="OpenMpiLibrary"/>. Created by <see cref="Communicator.World"/>; finalized when the process exits.
/// </summary>
/// <remarks>
/// Faults: MPI errors are returned rather than fatal inside Open MPI (<c>MPI_ERRORS_RETURN</c>), and every
/// blocking call runs under a deadline (<see cref="Timeout"/>, from <c>NORMLAB_MPI_TIMEOUT</c> in seconds,
/// default 300). A failed call, or one still blocked at its deadline because a peer died or hangs, writes
/// one line to stderr ("normlab: rank r/P: MPI all-reduce did not complete within ...") and ends the
/// process (<c>MPI_Abort</c>, or <c>_exit</c> from the watchdog thread), so <c>mpirun</c> ends the job.
/// SIGTERM from <c>mpirun</c> (sent to the survivors when a rank fails) also ends the process at once
/// with a line saying so. Initialized with <c>MPI_THREAD_SERIALIZED</c>; calls are serialized by a lock.
/// </remarks>
public sealed unsafe class MpiCommunicator : Communicator
{
    /// <summary>The environment variable that sets <see cref="Timeout"/> in seconds.</summary>
    public const string TimeoutVariable = "NORMLAB_MPI_TIMEOUT";

    private const int ExitCode = 1;
    private readonly OpenMpiLibrary _mpi;
    private readonly object _calls = new();
    private readonly CollectiveWatchdog _watchdog;
    private bool _finalized;
    private PosixSignalRegistration? _sigterm;

    private MpiCommunicator(OpenMpiLibrary mpi, int rank, int size, TimeSpan timeout)
    {
        _mpi = mpi;
        Rank = rank;
        Size = size;
        Timeout = timeout;
        _watchdog = new CollectiveWatchdog(timeout, what => Exit($"MPI {what} did not complete within {timeout.TotalSeconds:0.###} s: another rank has died or stopped responding; exiting"));
    }

    /// <inheritdoc />
    public override int Rank { get; }

    /// <inheritdoc />
    public override int Size { get; }

    /// <summary>How long one blocking MPI call may take before the process gives up on its peers.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The file name of the loaded MPI library.</summary>
    public string Library => _mpi.Path;

    /// <summary>Loads Open MPI and initializes it (once per process).</summary>
    /// <exception cref="DistributedException">the library is missing or MPI fails to initialize.</exception>
    internal static MpiCommunicator Start()
    {
        var timeout = TimeoutFromEnvironment();
        var mpi = OpenMpiLibrary.Load();
        int initialized = 0, provided = 0, rank = 0, size = 0;
        Check(mpi, mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
            Check(mpi, mpi.InitThread(null, IntPtr.Zero, OpenMpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread");
        Check(mpi, mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(mpi, mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        Check(mpi, mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        var world = new MpiCommunicator(mpi, rank, size, timeout);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => world.Shutdown();
        world._sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
            world.Exit("stopped by the MPI launcher (SIGTERM), most likely because another rank failed", code: 143));
        return world;
    }

    /// <summary>Reads <see cref="TimeoutVariable"/>: seconds &gt; 0, default 300.</summary>
    /// <exception cref="DistributedException">a value that is not a positive number.</exception>
    internal static TimeSpan TimeoutFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(TimeoutVariable);
        if (string.IsNullOrWhiteSpace(text)) return TimeSpan.FromSeconds(300);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && s < 1e7
            ? TimeSpan.FromSeconds(s)
            : throw new DistributedException($"MPI: {TimeoutVariable} ({text}) must be a number of seconds > 0");
    }

    /// <inheritdoc />
    public override void AllReduceSum(Span<double> buffer)
    {
        fixed (double* p = buffer) Chunked(p, buffer.Length, sizeof(double), _mpi.Double, "all-reduce");
    }

    /// <inheritdoc />
    public override void AllReduceSum(Span<float> buffer)
    {
        fixed (float* p = buffer) Chunked(p, buffer.Length, sizeof(float), _mpi.Float, "all-reduce");
    }

    /// <inheritdoc />
    public override void Broadcast(Span<byte> buffer, int root = 0)
    {
        if (root < 0 || root >= Size) throw new ArgumentException($"root ({root}) must be a rank in [0, {Size})", nameof(root));
        fixed (byte* p = buffer) Chunked(p, buffer.Length, 1, _mpi.Byte, "broadcast", root);
    }

    /// <inheritdoc />
    public override void Barrier()
    {
        lock (_calls)
        {
            _watchdog.Arm("barrier");
            int code = _mpi.Barrier(_mpi.CommWorld);
            _watchdog.Disarm();
            CheckCollective(code, "barrier");
        }
    }

    /// <summary>
    /// Writes <paramref name="line"/> to stderr and ends the whole job (<c>MPI_Abort</c>), so the other
    /// ranks do not wait for this one. Does not return.
    /// </summary>
    public void Abort(string line, int code = ExitCode)
    {
        Write(line);
        lock (_calls)
        {
            _watchdog.Arm("abort");
            _mpi.Abort(_mpi.CommWorld, code);
        }
        Exit("MPI_Abort returned", code);
    }

    private void Chunked(void* start, int length, int elementSize, IntPtr type, string what, int root = -1)
    {
        const int MaxCount = 1 << 30;
        var bytes = (byte*)start;
        lock (_calls)
        {
            for (long offset = 0; offset < length; offset += MaxCount)
            {
                int count = (int)Math.Min(MaxCount, length - offset);
                var p = bytes + offset * elementSize;
                _watchdog.Arm(what);
                int code = root < 0
                    ? _mpi.Allreduce(OpenMpiLibrary.InPlace, p, count, type, _mpi.Sum, _mpi.CommWorld)
                    : _mpi.Bcast(p, count, type, root, _mpi.CommWorld);
                _watchdog.Disarm();
                CheckCollective(code, what);
            }
        }
    }

    private void CheckCollective(int code, string what)
    {
        if (code != OpenMpiLibrary.Success)
            Exit($"MPI {what} failed: {_mpi.Describe(code)}; another rank has most likely died; exiting");
    }

    private void Shutdown()
    {
        lock (_calls)
        {
            if (_finalized) return;
            _finalized = true;
            int done = 0;
            _mpi.Finalized(&done);
            if (done != 0) return;
            _watchdog.Arm("finalize");
            _mpi.Finalize();
            _watchdog.Disarm();
        }
    }

    private static void Write(string line)
    {
        try
        {
            Console.Error.WriteLine(line);
            Console.Error.Flush();
        }
        catch (IOException) { }
    }

    /// <summary>Writes the message and ends the process at once (no finalizers, no MPI_Finalize).</summary>
    private void Exit(string message, int code = ExitCode)
    {
        Write($"normlab: {this}: {message}");
        Posix.Exit(code);
    }

    private static void Check(OpenMpiLibrary mpi, int code, string call)
    {
        if (code != OpenMpiLibrary.Success)
            throw new DistributedException($"MPI: {call} failed: {mpi.Describe(code)}");
    }
}

/// <summary>libc's <c>_exit</c>: ends the process without running managed or native exit handlers.</summary>
internal static class Posix
{
    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitNow(int code);

    public static void Exit(int code)
    {
        ExitNow(code);
        Environment.Exit(code);
    }
}
