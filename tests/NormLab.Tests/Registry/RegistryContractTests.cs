using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Registry;

/// <summary>
/// Contracts every registered normalizer keeps, with its default spec: shape preserved, finite
/// gradients, eval mode independent of the rest of the batch, state dicts that round-trip, and metadata.
/// </summary>
public class RegistryContractTests
{
    private static readonly long[] Features = { 32, 3, 3 };

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var e in NormRegistry.Entries) data.Add(e.Name);
        return data;
    }

    private static nn.Module<Tensor, Tensor> Build(string name)
    {
        var layer = NormRegistry.Create(name, Features);
        layer.to(ScalarType.Float64);
        return layer;
    }

    private static Tensor Batch(long seed, long n = 6) => new Rand(seed).Features(new[] { n }.Concat(Features).ToArray());

    [Theory]
    [MemberData(nameof(Names))]
    public void Output_has_the_input_shape_and_finite_gradients(string name)
    {
        var layer = Build(name);
        var x = Batch(1).requires_grad_(true);
        var y = layer.call(x);
        Assert.Equal(x.shape, y.shape);
        y.square().sum().backward();
        Assert.True(x.grad!.isfinite().all().item<bool>(), "input gradient not finite");
        foreach (var (pname, p) in layer.named_parameters())
            Assert.True(p.grad is not null && p.grad.isfinite().all().item<bool>(), $"gradient of {pname} missing or not finite");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Eval_output_of_a_sample_does_not_depend_on_the_rest_of_the_batch(string name)
    {
        var layer = Build(name);
        for (int i = 0; i < 3; i++) using (no_grad()) layer.call(Batch(10 + i));
        layer.eval();
        var x = Batch(20);
        using var _ = no_grad();
        var full = layer.call(x);
        var alone = layer.call(x[..2]);
        var other = layer.call(cat(new[] { x[..2], Batch(21, 3) }));
        TensorAssert.Close(full[..2], alone, rtol: 1e-12, atol: 1e-12, what: "sample alone vs in batch");
        TensorAssert.Close(full[..2], other[..2], rtol: 1e-12, atol: 1e-12, what: "sample with other batch");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void State_dict_round_trips_through_save_and_load(string name)
    {
        var layer = Build(name);
        NormLab.Tests.Layers.NativeConformanceTests.Randomize(layer, 3);
        for (int i = 0; i < 2; i++) using (no_grad()) layer.call(Batch(30 + i));
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) layer.save(w);
        stream.Position = 0;
        var copy = Build(name);
        using (var r = new BinaryReader(stream)) copy.load(r);
        var before = layer.state_dict();
        var after = copy.state_dict();
        Assert.Equal(before.Keys.OrderBy(k => k), after.Keys.OrderBy(k => k));
        foreach (var (k, v) in before) Assert.True(TensorAssert.Same(v, after[k]), $"state '{k}' differs after load");
        layer.eval();
        copy.eval();
        var x = Batch(40);
        using var _ = no_grad();
        Assert.True(TensorAssert.Same(layer.call(x), copy.call(x)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Entry_has_metadata_and_rejects_unknown_keys(string name)
    {
        var entry = NormRegistry.Registry.Find(name);
        Assert.Equal(name, name.ToLowerInvariant());
        Assert.False(string.IsNullOrWhiteSpace(entry.Paper));
        Assert.False(string.IsNullOrWhiteSpace(entry.Formula));
        Assert.Matches(@"(19|20)\d\d", entry.Paper);
        foreach (var alias in entry.Aliases) Assert.Same(entry, NormRegistry.Registry.Find(alias));
        var e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create($"{name}(bogus_key=1)", Features));
        Assert.Contains("bogus_key", e.Message);
        foreach (var key in entry.Keys) Assert.Contains(key.Name, e.Message);
    }
}
