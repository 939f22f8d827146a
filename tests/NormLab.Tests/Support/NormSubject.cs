using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Support;

/// <summary>
/// A registry normalizer under test, plain or conditional, with an example condition per conditional
/// entry, so contract tests can run over every entry. A new conditional entry must be added here.
/// </summary>
public sealed class NormSubject
{
    private readonly Func<long, long, Tensor>? _condition;

    private NormSubject(nn.Module module, Func<long, long, Tensor>? condition)
    {
        Module = module;
        _condition = condition;
    }

    public nn.Module Module { get; }

    public bool IsConditional => _condition is not null;

    /// <summary>Example condition factories (batch size, seed) and their shapes without the batch dim, by entry name.</summary>
    public static readonly Dictionary<string, (long[] Shape, Func<long, long, Tensor> Make)> Conditions = new()
    {
        ["adain"] = (new long[] { 0, 5, 5 }, (n, s) => new Rand(s).Features(n, 32, 5, 5)),
        ["spade"] = (new long[] { 3, 4, 4 }, (n, s) => new Rand(s).Uniform(0, 1, n, 3, 4, 4)),
        ["cbn"] = (Array.Empty<long>(), (n, s) => randint(0, 10, new[] { n }, generator: new Generator((ulong)s))),
        ["film"] = (new long[] { 7 }, (n, s) => new Rand(s).Normal(n, 7)),
    };

    /// <summary>Builds the entry's default spec for [N, *featureShape], in float64.</summary>
    public static NormSubject Create(string spec, long[] featureShape)
    {
        var name = NormRegistry.Registry.Find(Spec.Parse(spec).Name).Name;
        NormSubject subject;
        if (NormRegistry.IsConditional(spec))
        {
            Assert.True(Conditions.ContainsKey(name), $"conditional entry '{name}' has no example condition in NormSubject.Conditions");
            var (shape, make) = Conditions[name];
            var conditionShape = shape.Select((d, i) => d == 0 ? featureShape[i] : d).ToArray();
            subject = new NormSubject(NormRegistry.CreateConditional(spec, featureShape, conditionShape), make);
        }
        else
            subject = new NormSubject(NormRegistry.Create(spec, featureShape), null);
        subject.Module.to(ScalarType.Float64);
        return subject;
    }

    /// <summary>An example condition for a batch of <paramref name="n"/> (null for plain normalizers).</summary>
    public Tensor? Condition(long n, long seed) => _condition?.Invoke(n, seed) is { } c && c.is_floating_point() ? c.to(ScalarType.Float64) : _condition?.Invoke(n, seed);

    /// <summary>Runs the module on x (and the condition, for conditional ones).</summary>
    public Tensor Call(Tensor x, Tensor? condition = null) => Module switch
    {
        nn.Module<Tensor, Tensor> plain => plain.call(x),
        nn.Module<Tensor, Tensor, Tensor> conditional => conditional.call(x, condition ?? throw new ArgumentNullException(nameof(condition))),
        _ => throw new InvalidOperationException($"unexpected module type {Module.GetType()}"),
    };
}
