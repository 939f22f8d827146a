using System.Runtime.InteropServices;

namespace NormLab.Distributed;

/// <summary>
/// The minimal P/Invoke binding to Open MPI's C library (<c>libmpi.so.40</c>, Open MPI 4.x and 5.x):
/// init/finalize, rank/size, all-reduce (sum) on float64 and float32 buffers, broadcast, barrier, abort.
/// </summary>
/// <remarks>
/// Open MPI's handles (<c>MPI_COMM_WORLD</c>, <c>MPI_DOUBLE</c>, <c>MPI_SUM</c>, ...) are the addresses of
/// global objects (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_double</c>, <c>ompi_mpi_op_sum</c>), as its
/// <c>mpi.h</c> defines them through <c>OMPI_PREDEFINED_GLOBAL</c>; they are looked up as exported symbols.
/// MPICH-family libraries use integer handles and are not supported. The library is opened with
/// <c>RTLD_GLOBAL</c>, because Open MPI's plugins (<c>mca_*.so</c>) resolve its symbols from the global
/// scope. Nothing is loaded until <see cref="Load"/> runs.
/// </remarks>
internal sealed unsafe class OpenMpiLibrary
{
    /// <summary>MPI_SUCCESS.</summary>
    public const int Success = 0;

    /// <summary>MPI_THREAD_SERIALIZED: any thread may call MPI, one at a time.</summary>
    public const int ThreadSerialized = 2;

    /// <summary>MPI_IN_PLACE.</summary>
    public static readonly IntPtr InPlace = 1;

    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr DlOpen(string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr DlError();

    private readonly IntPtr _handle;

    private OpenMpiLibrary(IntPtr handle, string path)
    {
        _handle = handle;
        Path = path;
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, IntPtr, int, int*, int>)Export("MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        CommRank = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<IntPtr, void*, int, IntPtr, IntPtr, IntPtr, int>)Export("MPI_Allreduce");
        Bcast = (delegate* unmanaged<void*, int, IntPtr, int, IntPtr, int>)Export("MPI_Bcast");
        Barrier = (delegate* unmanaged<IntPtr, int>)Export("MPI_Barrier");
        Abort = (delegate* unmanaged<IntPtr, int, int>)Export("MPI_Abort");
        CommSetErrhandler = (delegate* unmanaged<IntPtr, IntPtr, int>)Export("MPI_Comm_set_errhandler");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        CommWorld = Export("ompi_mpi_comm_world");
        Double = Export("ompi_mpi_double");
        Float = Export("ompi_mpi_float");
        Byte = Export("ompi_mpi_byte");
        Sum = Export("ompi_mpi_op_sum");
        ErrorsReturn = Export("ompi_mpi_errors_return");
    }

    /// <summary>The file that was loaded.</summary>
    public string Path { get; }

    /// <summary>MPI_Initialized(int* flag).</summary>
    public readonly delegate* unmanaged<int*, int> Initialized;
    /// <summary>MPI_Finalized(int* flag).</summary>
    public readonly delegate* unmanaged<int*, int> Finalized;
    /// <summary>MPI_Init_thread(int* argc, char*** argv, int required, int* provided).</summary>
    public readonly delegate* unmanaged<int*, IntPtr, int, int*, int> InitThread;
    /// <summary>MPI_Finalize().</summary>
    public readonly delegate* unmanaged<int> Finalize;
    /// <summary>MPI_Comm_rank(MPI_Comm, int*).</summary>
    public readonly delegate* unmanaged<IntPtr, int*, int> CommRank;
    /// <summary>MPI_Comm_size(MPI_Comm, int*).</summary>
    public readonly delegate* unmanaged<IntPtr, int*, int> CommSize;
    /// <summary>MPI_Allreduce(const void* send, void* recv, int count, MPI_Datatype, MPI_Op, MPI_Comm).</summary>
    public readonly delegate* unmanaged<IntPtr, void*, int, IntPtr, IntPtr, IntPtr, int> Allreduce;
    /// <summary>MPI_Bcast(void* buffer, int count, MPI_Datatype, int root, MPI_Comm).</summary>
    public readonly delegate* unmanaged<void*, int, IntPtr, int, IntPtr, int> Bcast;
    /// <summary>MPI_Barrier(MPI_Comm).</summary>
    public readonly delegate* unmanaged<IntPtr, int> Barrier;
    /// <summary>MPI_Abort(MPI_Comm, int errorcode).</summary>
    public readonly delegate* unmanaged<IntPtr, int, int> Abort;
    /// <summary>MPI_Comm_set_errhandler(MPI_Comm, MPI_Errhandler).</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr, int> CommSetErrhandler;
    /// <summary>MPI_Error_string(int code, char* text, int* length).</summary>
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

    /// <summary>MPI_COMM_WORLD.</summary>
    public IntPtr CommWorld { get; }
    /// <summary>MPI_DOUBLE.</summary>
    public IntPtr Double { get; }
    /// <summary>MPI_FLOAT.</summary>
    public IntPtr Float { get; }
    /// <summary>MPI_BYTE.</summary>
    public IntPtr Byte { get; }
    /// <summary>MPI_SUM.</summary>
    public IntPtr Sum { get; }
    /// <summary>MPI_ERRORS_RETURN.</summary>
    public IntPtr ErrorsReturn { get; }

    /// <summary>
    /// Opens Open MPI's library: <c>NORMLAB_LIBMPI</c> when set, else <c>libmpi.so.40</c>, then <c>libmpi.so</c>.
    /// </summary>
    /// <exception cref="DistributedException">no library could be loaded, or it is not Open MPI.</exception>
    public static OpenMpiLibrary Load()
    {
        var explicitPath = Environment.GetEnvironmentVariable("NORMLAB_LIBMPI");
        var candidates = string.IsNullOrWhiteSpace(explicitPath) ? new[] { "libmpi.so.40", "libmpi.so" } : new[] { explicitPath };
        string? lastError = null;
        foreach (var name in candidates)
        {
            var handle = DlOpen(name, RtldNow | RtldGlobal);
            if (handle == IntPtr.Zero)
            {
                lastError = Marshal.PtrToStringUTF8(DlError());
                continue;
            }
            try { return new OpenMpiLibrary(handle, name); }
            catch (EntryPointNotFoundException e)
            {
                throw new DistributedException($"MPI: {name} is not Open MPI's library ({e.Message}); NormLab's binding needs Open MPI 4 or 5");
            }
        }
        throw new DistributedException(
            $"MPI: cannot load {string.Join(" or ", candidates)} ({lastError}); install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or set NORMLAB_LIBMPI to its libmpi.so");
    }

    /// <summary>The text of an MPI error code.</summary>
    public string Describe(int code)
    {
        var text = stackalloc byte[512];
        int length = 0;
        return ErrorString(code, text, &length) == Success ? System.Text.Encoding.UTF8.GetString(text, Math.Clamp(length, 0, 512)) : $"MPI error {code}";
    }

    private IntPtr Export(string symbol) => NativeLibrary.GetExport(_handle, symbol);
}
