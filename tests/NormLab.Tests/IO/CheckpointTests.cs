using NormLab.IO;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.IO;

/// <summary>Checkpoints round-trip bit-identically and fail clearly when they do not fit or are damaged.</summary>
public class CheckpointTests
{
    private static nn.Module<Tensor, Tensor> Model(long seed)
    {
        manual_seed(seed);
        return nn.Sequential(("fc", nn.Linear(4, 6)), ("norm", NormRegistry.Create("bn", 6)), ("out", nn.Linear(6, 2)));
    }

    [Fact]
    public void Module_and_optimizer_state_round_trip_and_training_resumes_identically()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(190);
        var batches = Enumerable.Range(0, 6).Select(_ => (rand.Normal(8, 4).to(ScalarType.Float32), rand.Normal(8, 2).to(ScalarType.Float32))).ToList();
        void Step(nn.Module<Tensor, Tensor> m, optim.Optimizer o, (Tensor X, Tensor Y) b)
        {
            o.zero_grad();
            (m.call(b.X) - b.Y).square().mean().backward();
            o.step();
        }
        var a = Model(191);
        var optA = optim.Adam(a.parameters(), 0.01);
        for (int i = 0; i < 3; i++) Step(a, optA, batches[i]);
        var checkpoint = Checkpoint.Of(a).WithOptimizer((TorchSharp.Modules.OptimizerHelper)optA);
        checkpoint.Metadata["step"] = "3";
        checkpoint.Save(dir["c.ckpt"]);
        for (int i = 3; i < 6; i++) Step(a, optA, batches[i]);

        var loaded = Checkpoint.Load(dir["c.ckpt"]);
        Assert.Equal("3", loaded.Metadata["step"]);
        var b = Model(999);
        var optB = optim.Adam(b.parameters(), 0.01);
        loaded.LoadInto(b);
        loaded.LoadInto((TorchSharp.Modules.OptimizerHelper)optB);
        for (int i = 3; i < 6; i++) Step(b, optB, batches[i]);
        foreach (var (k, v) in a.state_dict()) Assert.True(TensorAssert.Same(v, b.state_dict()[k]), $"{k} differs after resuming");
    }

    [Fact]
    public void Mismatched_or_missing_keys_are_listed()
    {
        using var dir = new CliRunner.TempDir();
        Checkpoint.Of(Model(192)).Save(dir["c.ckpt"]);
        var other = nn.Sequential(("fc", nn.Linear(4, 5)), ("out", nn.Linear(5, 2)), ("extra", nn.Linear(2, 2)));
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Load(dir["c.ckpt"]).LoadInto(other));
        Assert.Contains("missing keys: extra.weight, extra.bias", e.Message);
        Assert.Contains("unexpected keys: norm.bias, norm.num_batches_tracked, norm.running_mean, norm.running_var, norm.weight", e.Message);
        Assert.Contains("norm.running_mean", e.Message);
        Assert.Contains("fc.weight (checkpoint [6, 4], module [5, 4])", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Truncated_corrupted_and_foreign_files_are_clear_errors()
    {
        using var dir = new CliRunner.TempDir();
        Checkpoint.Of(Model(193)).Save(dir["c.ckpt"]);
        var bytes = File.ReadAllBytes(dir["c.ckpt"]);
        foreach (var cut in new[] { bytes.Length - 1, bytes.Length / 2, 20, 5, 0 })
        {
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Parse(bytes[..cut], "c.ckpt"));
            Assert.True(e.Message.Contains("truncated") || e.Message.Contains("not a NormLab checkpoint"), e.Message);
        }
        var flipped = bytes.ToArray();
        flipped[^40] ^= 0x10;
        Assert.Contains("corrupted", Assert.Throws<CheckpointException>(() => Checkpoint.Parse(flipped, "c.ckpt")).Message);
        Assert.Contains("not a NormLab checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Parse("hello world, this is text"u8.ToArray(), "t")).Message);
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir["nope.ckpt"])).Message);
    }
}
