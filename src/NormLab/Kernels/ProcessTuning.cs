using System.Runtime.InteropServices;

namespace NormLab.Kernels;

/// <summary>
/// Process-level settings for tensor workloads on Linux. Each one must be in place before LibTorch loads, so
/// an application calls <see cref="Apply"/> first thing in <c>Main</c> (the CLI does).
/// </summary>
/// <remarks>
/// <para><b>malloc</b> (<see cref="ApplyMalloc"/>): the mmap and trim thresholds are raised, so large tensor
/// buffers are reused from the heap instead of being mapped and unmapped on every allocation. On VMs where
/// touching a fresh page costs microseconds, a 100 MB tensor otherwise pays tens of milliseconds of page
/// faults per call. The cost is memory: freed tensor memory stays with the process for reuse. This is the
/// same as starting with <c>MALLOC_MMAP_THRESHOLD_</c> and <c>MALLOC_TRIM_THRESHOLD_</c> set high.
/// <c>NORMLAB_MALLOC=default</c> switches it off, to measure the difference.</para>
/// <para><b>OpenMP spinning</b> (<see cref="ApplyOpenMpSpin"/>): after each parallel region, LibTorch's OpenMP
/// workers (libgomp) spin for <c>GOMP_SPINCOUNT</c> iterations before they sleep. The default is 300,000,
/// which is around a millisecond. The fused kernels run on .NET threads, so on a 2-core machine those
/// workers spin on the same cores right after every LibTorch op. A spin count of 10,000 lets them sleep
/// within microseconds. Measured with <c>normlab bench</c> (fwd+bwd, [32,64,56,56] float32, 2 threads):
/// fused BN went from 9.6–9.8 ms to 6.8–7.2 ms, LN from 12.4–13.1 ms to 7.9–8.0 ms, and GN from
/// 6.1 ms to 4.5–4.7 ms. LibTorch's own ops did not slow down: the plain CNN trained at 9,300 images/s
/// with the setting and 9,200 without it. A spin count of 0 (<c>OMP_WAIT_POLICY=passive</c>) cost
/// LibTorch 20% of that. The environment's own <c>GOMP_SPINCOUNT</c> or <c>OMP_WAIT_POLICY</c> takes
/// precedence, and <c>NORMLAB_OMP_SPIN=default</c> switches the setting off.</para>
/// Outside Linux/glibc both are no-ops.
/// </remarks>
public static class ProcessTuning
{
    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    /// <summary>The spin count <see cref="ApplyOpenMpSpin"/> sets unless told otherwise.</summary>
    public const int DefaultSpinCount = 10_000;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern nint GetEnv(string name);

    /// <summary>Applies every setting; returns true when all of them took effect.</summary>
    public static bool Apply() => ApplyMalloc() & ApplyOpenMpSpin();

    /// <summary>Raises glibc's mmap and trim thresholds; returns true when glibc accepted them.</summary>
    /// <param name="mmapThreshold">Allocations at least this large use mmap; default 1 GiB.</param>
    /// <param name="trimThreshold">Free heap top kept before returning memory to the OS; default 2 GiB − 1 (mallopt takes an int).</param>
    public static bool ApplyMalloc(int mmapThreshold = 1 << 30, int trimThreshold = int.MaxValue)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("NORMLAB_MALLOC") == "default") return false;
        try
        {
            return Mallopt(MMmapThreshold, mmapThreshold) == 1 & Mallopt(MTrimThreshold, trimThreshold) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (musl has no mallopt)
        }
    }

    /// <summary>
    /// Sets <c>GOMP_SPINCOUNT</c> in the native environment for libgomp to read when LibTorch loads it. Returns
    /// true when it was set, and false when it was switched off, when the environment already chooses a
    /// wait policy, or when libgomp is already loaded (too late: it has read its settings).
    /// </summary>
    /// <param name="spinCount">Iterations a worker spins before it sleeps, ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="spinCount"/> is negative.</exception>
    public static bool ApplyOpenMpSpin(int spinCount = DefaultSpinCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(spinCount);
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("NORMLAB_OMP_SPIN") == "default") return false;
        if (Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return false;
        if (OpenMpLoaded()) return false;
        try
        {
            return SetEnv("GOMP_SPINCOUNT", spinCount.ToString(System.Globalization.CultureInfo.InvariantCulture), 0) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The native environment's <c>GOMP_SPINCOUNT</c> (what libgomp reads), or null when unset or unreadable.</summary>
    public static string? OpenMpSpinCount()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return Marshal.PtrToStringUTF8(GetEnv("GOMP_SPINCOUNT"));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Whether libgomp is mapped into this process already.</summary>
    private static bool OpenMpLoaded()
    {
        try
        {
            return File.ReadAllText("/proc/self/maps").Contains("libgomp", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
