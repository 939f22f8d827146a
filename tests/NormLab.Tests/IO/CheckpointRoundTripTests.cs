using NormLab.IO;
using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.IO;

/// <summary>
/// Every normalizer, weight normalizer and optimizer survives a checkpoint: train k steps, save to a file,
/// load into fresh objects (built from another seed), continue m steps, and the parameters, buffers and
/// outputs equal those of an uninterrupted run bit for bit. Mismatched keys are listed and load nothing.
/// </summary>
public class CheckpointRoundTripTests
{
    private const int K = 3, M = 3;

    /// <summary>A trainable subject: a module, its optimizer (null without parameters) and its loss on batch i.</summary>
    private sealed record Trainee(nn.Module Module, NormOptimizer? Optimizer, Func<int, Tensor> Output);

    private static void Step(Trainee t, int i)
    {
        using var scope = NewDisposeScope();
        t.Optimizer?.zero_grad();
        var y = t.Output(i);
        if (t.Optimizer is null)
            return;
        var target = new Rand(500 + i).Normal(y.shape);
        (y * target).sum().add(y.square().mean()).backward();
        t.Optimizer.step();
    }

    /// <summary>Uninterrupted k+m steps vs k steps, checkpoint file, fresh objects, m steps: bit-identical state and eval output.</summary>
    private static void AssertResumeIsBitIdentical(Func<long, Trainee> build, string what)
    {
        using var dir = new CliRunner.TempDir();
        var full = build(1);
        for (int i = 0; i < K + M; i++) Step(full, i);

        var first = build(1);
        for (int i = 0; i < K; i++) Step(first, i);
        var checkpoint = Checkpoint.Of(first.Module);
        if (first.Optimizer is not null) checkpoint.WithOptimizer(first.Optimizer);
        checkpoint.Save(dir["c.ckpt"]);

        var resumed = build(2);
        var loaded = Checkpoint.Load(dir["c.ckpt"]);
        loaded.LoadInto(resumed.Module);
        if (resumed.Optimizer is not null) loaded.LoadInto(resumed.Optimizer);
        for (int i = K; i < K + M; i++) Step(resumed, i);

        var expected = full.Module.state_dict();
        var actual = resumed.Module.state_dict();
        Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), actual.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (k, v) in expected)
            Assert.True(TensorAssert.Same(v, actual[k]), $"{what}: state '{k}' differs from the uninterrupted run after resuming");
        if (full.Optimizer is not null)
            foreach (var (p, q) in full.Module.parameters().Zip(resumed.Module.parameters()))
            {
                var (sa, sb) = (full.Optimizer.StateOf(p), resumed.Optimizer!.StateOf(q));
                Assert.Equal(sa.step, sb.step);
                foreach (var key in sa.Keys)
                    Assert.True(sa[key] is null ? sb[key] is null : sb[key] is not null && TensorAssert.Same(sa[key]!, sb[key]!),
                        $"{what}: optimizer state '{key}' differs after resuming");
            }
        full.Module.eval();
        resumed.Module.eval();
        using var _ = no_grad();
        Assert.True(TensorAssert.Same(full.Output(99), resumed.Output(99)), $"{what}: eval outputs differ after resuming");
    }

    private static readonly NormalizerPropertyTests.Case Shape = new(3, 6, 4, new long[] { 4, 4 }, 1, 2, 1e-5, 0.3, true, 1, 0, 7);

    public static TheoryData<string> Normalizers()
    {
        var data = new TheoryData<string>();
        foreach (var e in NormRegistry.Entries) data.Add(e.Name);
        return data;
    }

    private static Trainee Normalizer(string name, long seed)
    {
        var entry = NormRegistry.Registry.Find(name);
        manual_seed(seed);
        var s = NormalizerPropertyTests.Build(entry, Shape, new[] { Shape.C }.Concat(Shape.Spatial).ToArray(), ScalarType.Float64);
        NormLab.Tests.Layers.NativeConformanceTests.Randomize(s.Module, seed);
        var ps = s.Module.parameters().ToList();
        var optimizer = ps.Count == 0 ? null : OptimizerRegistry.Create("adam(lr=0.05)", ps);
        return new Trainee(s.Module, optimizer, i =>
        {
            var x = new Rand(100 + i).Features(new[] { Shape.N, Shape.C }.Concat(Shape.Spatial).ToArray());
            return s.Call(x, s.Condition(Shape.N, 100 + i));
        });
    }

    [Theory]
    [MemberData(nameof(Normalizers))]
    public void Every_normalizer_resumes_bit_identically_from_a_checkpoint(string name) =>
        AssertResumeIsBitIdentical(seed => Normalizer(name, seed), name);

    [Theory]
    [MemberData(nameof(Normalizers))]
    public void Every_normalizer_lists_missing_unexpected_and_mismatched_keys_and_loads_nothing(string name)
    {
        var source = Normalizer(name, 1);
        Step(source, 0);
        var target = Normalizer(name, 2);
        var before = target.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var c = Checkpoint.Of(source.Module);
        c.Tensors["bogus.key"] = zeros(2);
        string? dropped = c.Tensors.Keys.Where(k => k != "bogus.key").OrderBy(k => k, StringComparer.Ordinal).FirstOrDefault();
        string? reshaped = c.Tensors.Keys.Where(k => k != "bogus.key" && k != dropped).OrderBy(k => k, StringComparer.Ordinal).FirstOrDefault();
        if (dropped is not null) c.Tensors.Remove(dropped);
        if (reshaped is not null) c.Tensors[reshaped] = zeros(new long[] { 3, 5, 7 }, ScalarType.Float64);
        var e = Assert.Throws<ArgumentException>(() => c.LoadInto(target.Module));
        Assert.Contains("unexpected keys: bogus.key", e.Message);
        if (dropped is not null) Assert.Contains($"missing keys: {dropped}", e.Message);
        if (reshaped is not null) Assert.Contains($"{reshaped} (checkpoint [3, 5, 7], module [", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        foreach (var (k, v) in target.Module.state_dict())
            Assert.True(TensorAssert.Same(before[k], v), $"{name}: state '{k}' changed although the load failed");
    }

    public static TheoryData<string> WeightNormalizers()
    {
        var data = new TheoryData<string>();
        foreach (var e in WeightNormRegistry.Entries) data.Add(e.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(WeightNormalizers))]
    public void Every_weight_normalizer_resumes_bit_identically_from_a_checkpoint(string name) =>
        AssertResumeIsBitIdentical(seed =>
        {
            manual_seed(seed);
            var layer = nn.Linear(6, 4, dtype: ScalarType.Float64);
            WeightNormRegistry.Apply(layer, name);
            var optimizer = OptimizerRegistry.Create("adam(lr=0.05)", layer.parameters());
            return new Trainee(layer, optimizer, i => layer.call(new Rand(200 + i).Normal(5, 6)));
        }, name);

    public static TheoryData<string> Optimizers()
    {
        var data = new TheoryData<string>();
        foreach (var e in OptimizerRegistry.Entries) data.Add(e.Name);
        data.Add("sgd(lr=0.05,momentum=0.9,nesterov=true,weight_decay=0.01,gc=true)");
        data.Add("lars(lr=0.5,exclude_bias=true,clip=true)");
        data.Add("lamb(lr=0.01,clamp=2)");
        data.Add("gradnorm(inner=adam(lr=0.01))");
        return data;
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Every_optimizer_resumes_bit_identically_from_a_checkpoint(string spec) =>
        AssertResumeIsBitIdentical(seed =>
        {
            manual_seed(seed);
            var model = nn.Sequential(("fc", nn.Linear(4, 6, dtype: ScalarType.Float64)), ("norm", NormRegistry.Create("bn", 6).to(ScalarType.Float64)),
                ("out", nn.Linear(6, 2, dtype: ScalarType.Float64)));
            var optimizer = OptimizerRegistry.Create(spec, model.parameters());
            return new Trainee(model, optimizer, i => model.call(new Rand(300 + i).Normal(8, 4)));
        }, spec);

    [Fact]
    public void Every_entry_of_the_three_registries_is_round_tripped()
    {
        Assert.Equal(NormRegistry.Entries.Count, Normalizers().Count);
        Assert.Equal(WeightNormRegistry.Entries.Count, WeightNormalizers().Count);
        Assert.True(Optimizers().Count >= OptimizerRegistry.Entries.Count);
    }
}
