using System.Runtime.InteropServices;

namespace NormLab.Kernels;

/// <summary>
/// Process-level glibc malloc settings for tensor workloads: raises the mmap threshold and the trim
/// threshold so that large tensor buffers are reused from the heap instead of being mapped and
/// unmapped on every allocation. On VMs where touching a fresh page costs microseconds, each 100 MB
/// tensor otherwise pays tens of milliseconds of page faults per call.
/// </summary>
/// <remarks>
/// Equivalent to starting the process with <c>MALLOC_MMAP_THRESHOLD_=1073741824</c> and
/// <c>MALLOC_TRIM_THRESHOLD_</c> set high; <c>mallopt</c> applies from the call on, so call it first
/// thing in <c>Main</c>, before LibTorch allocates. The cost is memory: freed tensor memory stays with
/// the process for reuse instead of returning to the OS. Does nothing outside Linux/glibc, or when the
/// environment variable <c>NORMLAB_MALLOC=default</c> is set (to measure the difference).
/// </remarks>
public static class MallocTuning
{
    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    /// <summary>Applies the settings; returns true when glibc accepted them.</summary>
    /// <param name="mmapThreshold">Allocations at least this large use mmap; default 1 GiB.</param>
    /// <param name="trimThreshold">Free heap top kept before returning memory to the OS; default 2 GiB − 1 (mallopt takes an int).</param>
    public static bool Apply(int mmapThreshold = 1 << 30, int trimThreshold = int.MaxValue)
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
}
