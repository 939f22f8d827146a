using System.Runtime.Intrinsics.X86;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// The size of the last-level cache, which decides when outputs stream (<see cref="StreamingStores"/>) and how
/// much of a tensor a two-pass kernel can expect to find cached on its second pass (<see cref="RowStreaming"/>).
/// </summary>
/// <remarks>
/// Read from sysfs, else from CPUID's deterministic cache leaves (leaf 4 on Intel, 0x8000001D on AMD), else
/// <see cref="DefaultBytes"/>. Virtual machines may expose neither: a Firecracker guest on AMD EPYC (Zen 5) had no
/// <c>/sys/devices/system/cpu/cpu0/cache</c>, no topology leaf, and a legacy leaf 0x80000006 claiming 508 MB of L3,
/// which is why that leaf is not used (glibc believed it and set its own non-temporal threshold to 127 MB).
/// </remarks>
internal static class CacheSize
{
    /// <summary>Assumed when nothing can be read: the L3 of one core complex of current server parts (AMD EPYC Zen 4/5).</summary>
    public const long DefaultBytes = 32L << 20;

    /// <summary>The last-level cache in bytes.</summary>
    public static readonly long LastLevelBytes;

    /// <summary>Where <see cref="LastLevelBytes"/> came from: "sysfs", "cpuid" or "default".</summary>
    public static readonly string Source;

    static CacheSize()
    {
        long sysfs = FromSysfs(), cpuid = FromCpuid();
        (LastLevelBytes, Source) = sysfs > 0 ? (sysfs, "sysfs") : cpuid > 0 ? (cpuid, "cpuid") : (DefaultBytes, "default");
    }

    /// <summary>The size of the cache a deterministic cache-parameters leaf describes: ways × partitions × line × sets.</summary>
    public static long FromLeaf(int ebx, int ecx) =>
        (long)(((ebx >> 22) & 0x3ff) + 1) * (((ebx >> 12) & 0x3ff) + 1) * ((ebx & 0xfff) + 1) * ((long)(uint)ecx + 1);

    /// <summary>The largest cache of CPU 0 from sysfs (e.g. "32768K"), or 0 when unreadable.</summary>
    private static long FromSysfs()
    {
        long best = 0;
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/sys/devices/system/cpu/cpu0/cache", "index*"))
            {
                string text = File.ReadAllText(Path.Combine(dir, "size")).Trim();
                long scale = text.EndsWith('K') ? 1024 : text.EndsWith('M') ? 1024 * 1024 : 1;
                if (long.TryParse(text.TrimEnd('K', 'M'), out long value)) best = Math.Max(best, value * scale);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        return best;
    }

    /// <summary>The largest cache the deterministic cache leaves list, or 0 where they list none.</summary>
    private static long FromCpuid()
    {
        if (!X86Base.IsSupported) return 0;
        long best = 0;
        foreach (int leaf in new[] { 4, unchecked((int)0x8000001D) })
        {
            int max = leaf > 0 ? X86Base.CpuId(0, 0).Eax : X86Base.CpuId(unchecked((int)0x80000000), 0).Eax;
            if ((uint)max < (uint)leaf) continue;
            for (int sub = 0; sub < 8; sub++)
            {
                var (eax, ebx, ecx, _) = X86Base.CpuId(leaf, sub);
                if ((eax & 0x1f) == 0) break;
                best = Math.Max(best, FromLeaf(ebx, ecx));
            }
        }
        return best;
    }
}
