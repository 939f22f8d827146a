using NormLab.Data;
using NormLab.Distributed;
using NormLab.Models;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Distributed;

/// <summary>Data-parallel training in an in-process job of P threads: P processes with batch b follow one process with batch P·b.</summary>
public class DataParallelTests
{
    private static LabeledDataset Data() => SyntheticData.Images(3, train: 96, test: 40);

    private static TrainingConfig Config(string optimizer, int batch, string norm = "bn(sync=true)") => new()
    {
        Model = "cnn", Widths = new long[] { 4, 8, 8 }, Norm = norm, Optimizer = optimizer,
        BatchSize = batch, Epochs = 2, Seed = 1, RecordEvery = 1,
    };

    public static TheoryData<string> Optimizers() => new(OptimizerRegistry.Entries.Select(e => e.Name));

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TwoProcessesWithBatchBFollowOneProcessWithBatch2B(string optimizer)
    {
        using var data = Data();
        var (single, _) = TrainingJob.Run(Config(optimizer, 16), data);
        var ranks = ThreadJob.Run(2, world => TrainingJob.Run(Config(optimizer, 8), data, world: world).Result);
        Assert.Equal(12, single.StepLosses.Count);
        foreach (var r in ranks)
        {
            Assert.Equal(single.StepLosses.Count, r.StepLosses.Count);
            for (int i = 0; i < single.StepLosses.Count; i++)
                Assert.True(Math.Abs(single.StepLosses[i][1] - r.StepLosses[i][1]) <= 2e-5 * Math.Abs(single.StepLosses[i][1]),
                    $"{optimizer}: step {i + 1}: loss {r.StepLosses[i][1]:R} on 2 processes vs {single.StepLosses[i][1]:R} on one");
            Assert.Equal(single.Epochs[^1].TestAccuracy, r.Epochs[^1].TestAccuracy, 3);
        }
        Assert.Equal(ranks[0].StepLosses.Select(s => s[1]), ranks[1].StepLosses.Select(s => s[1]));
    }

    [Fact]
    public void UnsynchronizedNormalizationDoesNotFollowTheGlobalBatchRun()
    {
        using var data = Data();
        var (single, _) = TrainingJob.Run(Config("sgd(lr=0.05,momentum=0.9)", 16, "bn"), data);
        var ranks = ThreadJob.Run(2, world => TrainingJob.Run(Config("sgd(lr=0.05,momentum=0.9)", 8, "bn"), data, world: world).Result);
        Assert.True(Math.Abs(single.StepLosses[0][1] - ranks[0].StepLosses[0][1]) > 1e-4, "local BN statistics should change the first loss");
    }

    [Fact]
    public void GradientsAreSummedInBucketsAndReplicasStayIdentical()
    {
        var results = ThreadJob.Run(2, world =>
        {
            var model = new SmallCnn("bn", widths: new long[] { 4, 8, 8 }, seed: 1 + world.Rank);
            var parallel = new DataParallel(model, world, bucketBytes: 400);
            bool before = parallel.ReplicasAgree();
            parallel.BroadcastState();
            bool after = parallel.ReplicasAgree();
            foreach (var p in model.parameters()) p.grad = full_like(p, world.Rank + 1.0);
            parallel.AllReduceGradients();
            bool summed = model.parameters().All(p => p.grad!.eq(3.0).all().item<bool>());
            return (before, after, summed, parallel.LastBuckets, Count: model.parameters().Count());
        });
        foreach (var r in results)
        {
            Assert.False(r.before, "differently seeded replicas must not agree");
            Assert.True(r.after, "replicas must agree after the broadcast");
            Assert.True(r.summed, "every gradient must be the sum over ranks");
            Assert.InRange(r.LastBuckets, 3, r.Count);
        }
    }

    [Fact]
    public void ShardsAreContiguousAndCoverTheBatch()
    {
        Assert.Equal(new[] { (0L, 3L), (3L, 2L), (5L, 2L) }, Enumerable.Range(0, 3).Select(r => Shards.Of(7, 3, r)));
        Assert.Equal((4L, 4L), Shards.Of(8, 2, 1));
        ErrorAssert.OneLine(Assert.Throws<ArgumentException>(() => Shards.Of(7, 3, 3)), "rank (3) must be in [0, 3)");
        ErrorAssert.OneLine(Assert.Throws<ArgumentException>(() => Shards.Of(7, 0, 0)), "size (0) must be at least 1");
        ErrorAssert.OneLine(Assert.Throws<ArgumentException>(() => new DataParallel(nn.Linear(2, 2), SingleProcess.Instance, 0)), "bucketBytes (0) must be at least 1");
    }
}
