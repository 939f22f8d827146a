using NormLab.Kernels.Cpu;

namespace NormLab.Tests.Kernels;

/// <summary>The last-level cache size that decides streaming stores (<see cref="CacheSize"/>).</summary>
public class CacheSizeTests
{
    /// <summary>
    /// A deterministic cache-parameters leaf stores ways, partitions, line size and sets minus one each:
    /// EBX = (ways−1)≪22 | (partitions−1)≪12 | (line−1), ECX = sets−1.
    /// </summary>
    [Theory]
    [InlineData(16, 1, 64, 32768, 32L << 20)] // Zen 4/5 L3: 16 ways × 32768 sets × 64 B
    [InlineData(20, 1, 64, 24576, 30L << 20)] // 30 MB Intel L3
    [InlineData(8, 1, 64, 2048, 1L << 20)] // 1 MB L2
    [InlineData(12, 1, 64, 64, 48L << 10)] // 48 KB L1d
    public void A_cache_leaf_decodes_to_ways_times_partitions_times_line_times_sets(int ways, int partitions, int line, int sets, long bytes)
    {
        int ebx = ((ways - 1) << 22) | ((partitions - 1) << 12) | (line - 1);
        Assert.Equal(bytes, CacheSize.FromLeaf(ebx, sets - 1));
    }

    [Fact]
    public void The_size_is_positive_and_says_where_it_came_from()
    {
        Assert.True(CacheSize.LastLevelBytes >= 1L << 20, $"last-level cache {CacheSize.LastLevelBytes} bytes");
        Assert.Contains(CacheSize.Source, new[] { "sysfs", "cpuid", "default" });
        long expected = System.Runtime.Intrinsics.X86.Avx.IsSupported ? CacheSize.LastLevelBytes / 4 * 3 : long.MaxValue;
        Assert.Equal(expected, StreamingStores.Threshold);
    }
}
