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
    private static readonly long[] Features = { 32, 9, 9 };

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var e in NormRegistry.Entries) data.Add(e.Name);
        return data;
    }

    private static Tensor Batch(long seed, long n = 6) => new Rand(seed).Features(new[] { n }.Concat(Features).ToArray());

    [Theory]
    [MemberData(nameof(Names))]
    public void Output_has_the_input_shape_and_finite_gradients(string name)
    {
        var s = NormSubject.Create(name, Features);
        var x = Batch(1).requires_grad_(true);
        var y = s.Call(x, s.Condition(6, 2));
        Assert.Equal(x.shape, y.shape);
        y.square().sum().backward();
        Assert.True(x.grad!.isfinite().all().item<bool>(), "input gradient not finite");
        foreach (var (pname, p) in s.Module.named_parameters())
            Assert.True(p.grad is not null && p.grad.isfinite().all().item<bool>(), $"gradient of {pname} missing or not finite");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Eval_output_of_a_sample_does_not_depend_on_the_rest_of_the_batch(string name)
    {
        var s = NormSubject.Create(name, Features);
        for (int i = 0; i < 3; i++) using (no_grad()) s.Call(Batch(10 + i), s.Condition(6, 10 + i));
        s.Module.eval();
        var x = Batch(20);
        var c = s.Condition(6, 20);
        var other = s.Condition(5, 21);
        using var _ = no_grad();
        var full = s.Call(x, c);
        var alone = s.Call(x[..2], c?[..2]);
        var mixed = s.Call(cat(new[] { x[..2], Batch(21, 3) }), c is null ? null : cat(new[] { c[..2], other![..3] }));
        TensorAssert.Close(full[..2], alone, rtol: 1e-12, atol: 1e-12, what: "sample alone vs in batch");
        TensorAssert.Close(full[..2], mixed[..2], rtol: 1e-12, atol: 1e-12, what: "sample with other batch");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void State_dict_round_trips_through_save_and_load(string name)
    {
        var s = NormSubject.Create(name, Features);
        NormLab.Tests.Layers.NativeConformanceTests.Randomize(s.Module, 3);
        for (int i = 0; i < 2; i++) using (no_grad()) s.Call(Batch(30 + i), s.Condition(6, 30 + i));
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) s.Module.save(w);
        stream.Position = 0;
        var copy = NormSubject.Create(name, Features);
        using (var r = new BinaryReader(stream)) copy.Module.load(r);
        var before = s.Module.state_dict();
        var after = copy.Module.state_dict();
        Assert.Equal(before.Keys.OrderBy(k => k), after.Keys.OrderBy(k => k));
        foreach (var (k, v) in before) Assert.True(TensorAssert.Same(v, after[k]), $"state '{k}' differs after load");
        s.Module.eval();
        copy.Module.eval();
        var x = Batch(40);
        var c = s.Condition(6, 40);
        using var _ = no_grad();
        Assert.True(TensorAssert.Same(s.Call(x, c), copy.Call(x, c)));
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
        var e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.CreateAny($"{name}(bogus_key=1)", Features));
        Assert.Contains("bogus_key", e.Message);
        foreach (var key in entry.Keys) Assert.Contains(key.Name, e.Message);
    }
}
