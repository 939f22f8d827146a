using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Distributed;

/// <summary>Synchronized statistics in an in-process job of P threads (<see cref="ThreadJob"/>): exactness against one process on the whole batch.</summary>
public class SynchronizedAreaTests
{
    public static TheoryData<int, int> CasesAndSizes()
    {
        var data = new TheoryData<int, int>();
        for (int i = 0; i < SyncStep.Cases.Length; i++)
            foreach (var p in new[] { 2, 3 })
                data.Add(i, p);
        return data;
    }

    [Theory]
    [MemberData(nameof(CasesAndSizes))]
    public void ShardsCombineIntoTheGlobalBatchStep(int index, int p)
    {
        var c = SyncStep.Cases[index];
        var reference = SyncStep.Build(c);
        var state = reference.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var (x, g, cond) = SyncStep.Data(c);
        var expected = SyncStep.Run(reference, x, g, cond);
        var ranks = ThreadJob.Run(p, world => SyncStep.RunShard(c, state, x, g, cond, world));
        SyncStep.AssertCombines(expected, ranks, $"{c} over {p} ranks");
    }

    public static TheoryData<int> CaseIndices() => new(Enumerable.Range(0, SyncStep.Cases.Length));

    [Fact]
    public void UnsynchronizedShardsDoNotCombine()
    {
        var c = new SyncStep.Case("bn", new long[] { 7, 6, 3, 3 });
        var reference = SyncStep.Build(c);
        var state = reference.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var (x, g, _) = SyncStep.Data(c);
        var expected = SyncStep.Run(reference, x, g, null);
        var ranks = ThreadJob.Run(2, world => SyncStep.RunShard(c, state, x, g, null, world));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => SyncStep.AssertCombines(expected, ranks, "bn without sync"));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void AOneProcessJobIsBitIdenticalToTheUnsynchronizedLayer(int index)
    {
        var c = SyncStep.Cases[index];
        var plain = c with { Spec = SyncStep.Unsynchronized(c.Spec) };
        var (x, g, cond) = SyncStep.Data(c);
        foreach (var mode in new[] { KernelMode.Auto, KernelMode.Composite })
        {
            using var _ = KernelPolicy.Use(mode);
            var reference = SyncStep.Build(plain);
            var state = reference.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            var expected = SyncStep.Run(reference, x, g, cond);
            var alone = SyncStep.Run(SyncStep.Build(c, state), x, g, cond);
            var single = ThreadJob.Run(1, _ => SyncStep.Run(SyncStep.Build(c, state), x, g, cond))[0];
            foreach (var actual in new[] { alone, single })
            {
                Assert.True(TensorAssert.Same(expected.Y, actual.Y), $"{c} ({mode}): y differs");
                Assert.True(TensorAssert.Same(expected.GradX, actual.GradX), $"{c} ({mode}): grad input differs");
                foreach (var (name, t) in expected.ParamGrads) Assert.True(TensorAssert.Same(t, actual.ParamGrads[name]), $"{c} ({mode}): grad {name} differs");
                foreach (var (name, t) in expected.Buffers) Assert.True(TensorAssert.Same(t, actual.Buffers[name]), $"{c} ({mode}): {name} differs");
            }
        }
    }
}
