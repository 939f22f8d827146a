using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Registry;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Distributed;

/// <summary>Collectives on tensors (in-process jobs of P threads), the single-process job, and setup errors.</summary>
public class CommunicatorTests
{
    [Fact]
    public void TensorCollectivesSumBroadcastAndGatherAcrossRanks()
    {
        var results = ThreadJob.Run(3, world =>
        {
            var mine = full(new long[] { world.Rank + 1, 2 }, world.Rank + 1.0, ScalarType.Float32);
            var gathered = TensorCollectives.Gather(mine, world);
            var sum = TensorCollectives.SumNoGrad(full(new long[] { 4 }, world.Rank + 0.5, ScalarType.Float32), world, inFloat64: false);
            var shared = full(new long[] { 3 }, (double)world.Rank, ScalarType.Float64);
            TensorCollectives.Broadcast(shared, world, root: 2);
            return (gathered, sum, shared);
        });
        var expectedGather = cat(new[] { full(new long[] { 1, 2 }, 1.0, ScalarType.Float32), full(new long[] { 2, 2 }, 2.0, ScalarType.Float32), full(new long[] { 3, 2 }, 3.0, ScalarType.Float32) });
        foreach (var (gathered, sum, shared) in results)
        {
            Assert.True(TensorAssert.Same(expectedGather, gathered), "gather concatenates the shards in rank order");
            Assert.True(TensorAssert.Same(full(new long[] { 4 }, 4.5, ScalarType.Float32), sum), "sum over ranks, float32 kept");
            Assert.True(TensorAssert.Same(full(new long[] { 3 }, 2.0, ScalarType.Float64), shared), "broadcast from rank 2");
        }
    }

    [Fact]
    public void TheBackwardOfTheSumSumsTheIncomingGradientsAcrossRanks()
    {
        // L = Σ_r w_r·Σ_i S_i with S = Σ_q x_q: dL/dx_r = Σ_q w_q = 6 for weights 1, 2, 3.
        var grads = ThreadJob.Run(3, world =>
        {
            var x = new Rand(world.Rank).Normal(5).requires_grad_(true);
            var s = TensorCollectives.Sum(x, world);
            ((world.Rank + 1.0) * s.sum()).backward();
            return x.grad!.clone();
        });
        foreach (var g in grads) TensorAssert.Close(full(new long[] { 5 }, 6.0, ScalarType.Float64), g, what: "grad");
    }

    [Fact]
    public void ASingleProcessJobLeavesBuffersAlone()
    {
        var world = SingleProcess.Instance;
        Assert.Equal((0, 1), (world.Rank, world.Size));
        var data = new[] { 1.5, 2.5 };
        world.AllReduceSum(data);
        world.Barrier();
        Assert.Equal(new[] { 1.5, 2.5 }, data);
        Assert.Equal(3.0, world.Sum(3.0));
        ErrorAssert.OneLine(Assert.Throws<ArgumentException>(() => world.Broadcast(new byte[2], root: 1)), "root (1) must be 0");
        Assert.Same(world, Communicator.World);
    }

    [Fact]
    public void SetupErrorsAreOneLine()
    {
        if (!Communicator.Launched)
            ErrorAssert.OneLine(Assert.Throws<DistributedException>(() => Communicator.RequireMpi()), "not started by an MPI launcher", "mpirun -np P");
        var saved = (Environment.GetEnvironmentVariable("NORMLAB_LIBMPI"), Environment.GetEnvironmentVariable(MpiCommunicator.TimeoutVariable));
        try
        {
            Environment.SetEnvironmentVariable("NORMLAB_LIBMPI", "/nonexistent/libmpi.so.40");
            ErrorAssert.OneLine(Assert.Throws<DistributedException>(() => OpenMpiLibrary.Load()),
                "MPI: cannot load /nonexistent/libmpi.so.40", "apt-get install openmpi-bin libopenmpi-dev", "NORMLAB_LIBMPI");
            Environment.SetEnvironmentVariable(MpiCommunicator.TimeoutVariable, "soon");
            ErrorAssert.OneLine(Assert.Throws<DistributedException>(() => MpiCommunicator.TimeoutFromEnvironment()), "NORMLAB_MPI_TIMEOUT (soon) must be a number of seconds > 0");
            Environment.SetEnvironmentVariable(MpiCommunicator.TimeoutVariable, "2.5");
            Assert.Equal(TimeSpan.FromSeconds(2.5), MpiCommunicator.TimeoutFromEnvironment());
        }
        finally
        {
            Environment.SetEnvironmentVariable("NORMLAB_LIBMPI", saved.Item1);
            Environment.SetEnvironmentVariable(MpiCommunicator.TimeoutVariable, saved.Item2);
        }
    }

    [Fact]
    public void OnlyBatchReducingAreasAreSynchronized()
    {
        ErrorAssert.OneLine(Assert.Throws<ArgumentException>(() => new SynchronizedArea(new NormLab.Areas.LayerArea(new long[] { 4 }))), "layer area", "nothing to synchronize");
        var sync = new SynchronizedArea(ReductionArea.Batch(4));
        ErrorAssert.OneLine(Assert.Throws<ArgumentException>(() => new SynchronizedArea(sync)), "already synchronized");
        Assert.Equal("sync(batch)", sync.Name);
        Assert.False(sync.IsDistributed);
        Assert.True(ThreadJob.Run(2, _ => sync.IsDistributed).All(d => d));
        Assert.Same(ReductionArea.Batch(4).GetType(), SynchronizedArea.Maybe(ReductionArea.Batch(4), false).GetType());
    }

    [Fact]
    public void EveryBatchStatisticsEntryHasASyncKey()
    {
        var expected = new[] { "bn", "bgn", "meanbn", "pca", "zca", "cd", "itn", "sn", "sw", "mn", "an" };
        var withSync = NormRegistry.Entries.Where(e => e.Keys.Any(k => k.Name == "sync")).Select(e => e.Name).ToArray();
        Assert.Equal(expected.Order(), withSync.Order());
        foreach (var name in expected)
        {
            var module = (Normalizer)NormRegistry.Create($"{name}(sync=true)", 64, 4, 4);
            Assert.IsType<SynchronizedArea>(module.Area);
            Assert.IsNotType<SynchronizedArea>(((Normalizer)NormRegistry.Create(name, 64, 4, 4)).Area);
        }
        var e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create("bn(sync=maybe)", 6));
        ErrorAssert.OneLine(e, "sync");
    }
}
