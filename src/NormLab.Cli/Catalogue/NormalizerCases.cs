using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Catalogue;

/// <summary>
/// The bad-input cases for every entry of <see cref="NormRegistry"/>, with its default spec on inputs
/// [N, 32, 9, 9]. Each case states the behaviours it allows; anything else (a LibTorch error, a message
/// over several lines or without the offending value, a silent NaN, a wrong result) fails.
/// </summary>
internal static class NormalizerCases
{
    private static readonly long[] Features = { 32, 9, 9 };
    private const long Batch = 4;

    /// <summary>An example condition per conditional entry (batch, seed) and one of a wrong shape.</summary>
    internal static readonly Dictionary<string, (long[] Shape, Func<long, Generator, Tensor> Make, Func<long, Generator, Tensor> Wrong, string WrongText)> Conditions = new()
    {
        ["adain"] = (new long[] { 32, 5, 5 }, (n, g) => randn(new[] { n, 32, 5, 5 }, ScalarType.Float64, generator: g),
            (n, g) => randn(new[] { n, 31, 5, 5 }, ScalarType.Float64, generator: g), "31"),
        ["spade"] = (new long[] { 3, 4, 4 }, (n, g) => rand(new[] { n, 3, 4, 4 }, ScalarType.Float64, generator: g),
            (n, g) => rand(new[] { n, 2, 4, 4 }, ScalarType.Float64, generator: g), "2"),
        ["cbn"] = (Array.Empty<long>(), (n, g) => randint(0, 10, new[] { n }, generator: g),
            (n, g) => randint(0, 10, new[] { n, 2 }, generator: g), "2"),
        ["film"] = (new long[] { 7 }, (n, g) => randn(new[] { n, 7 }, ScalarType.Float64, generator: g),
            (n, g) => randn(new[] { n, 6 }, ScalarType.Float64, generator: g), "6"),
    };

    /// <summary>The case names, in table order.</summary>
    public static readonly string[] Names =
    {
        "wrong dims", "wrong channels", "batch 1", "1 value/channel", "zero batch", "zero spatial", "NaN", "Inf",
        "mixed dtypes", "permuted", "channels-last", "float16", "bfloat16", "wrong condition",
    };

    /// <summary>Runs one case on one entry: (outcome, passed, detail).</summary>
    public static (string, bool, string) RunCase(string name, string caseName)
    {
        var gen = new Generator(7);
        Tensor Input(params long[] shape) => randn(shape, ScalarType.Float64, generator: gen) * 2 + 1;
        var x = Input(new[] { Batch }.Concat(Features).ToArray());
        switch (caseName)
        {
            case "wrong dims":
                return Expect.ErrorRequired(Subject(name).Try(Input(Batch, 32, 9), gen), "3 dims", "[4, 32, 9]");
            case "wrong channels":
            {
                var s = Subject(name);
                var a = s.Try(Input(Batch, 33, 9, 9), gen);
                // Without per-channel parameters or state (LRN), any channel count is valid, as in PyTorch.
                if (a.Error is null && !s.Module.parameters().Any() && !s.Module.buffers().Any()) return ("ok (any C)", a.Output!.isfinite().all().item<bool>(), "no per-channel state");
                return Expect.ErrorRequired(a, "33");
            }
            case "batch 1":
                return Expect.ErrorOrFinite(Subject(name).Try(Input(1, 32, 9, 9), gen), "1");
            case "1 value/channel":
                return Expect.ErrorOrFinite(Subject(name).Try(Input(1, 32, 1, 1), gen), "1 value", "[1, 32, 1, 1]", "1 sample", "batch size 1", "window", "1 element");
            case "zero batch":
                return Expect.ErrorOrEmpty(Subject(name).Try(Input(0, 32, 9, 9), gen), "[0, 32, 9, 9]", "0 samples", "empty", "zero-size", "batch size 0");
            case "zero spatial":
                return Expect.ErrorOrEmpty(Subject(name).Try(Input(Batch, 32, 0, 0), gen), "[4, 32, 0, 0]", "empty", "zero-size", "0 elements", "window");
            case "NaN":
            case "Inf":
            {
                x[0, 0, 0, 0] = caseName == "NaN" ? double.NaN : double.PositiveInfinity;
                return Expect.ErrorOrPropagation(Subject(name).Try(x, gen));
            }
            case "mixed dtypes":
            {
                var s = Subject(name);
                var condition = s.Condition?.Invoke(Batch, gen);
                var a = s.Try(x.to(ScalarType.Float32), gen, condition);
                if (a.Error is not null) return a.IsClearError("Float32", "float32", "dtype") ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe());
                var reference = s.Try(x.to(ScalarType.Float32).to(ScalarType.Float64), gen, condition).Output!;
                return Expect.Agreement(a.Output!, reference, 1e-5, "ok");
            }
            case "permuted":
            case "channels-last":
            {
                var view = caseName == "permuted" ? x.transpose(2, 3).contiguous().transpose(2, 3) : x.movedim(new long[] { 1 }, new long[] { -1 }).contiguous().movedim(new long[] { -1 }, new long[] { 1 });
                if (view.is_contiguous()) return ("WRONG", false, "the test input is contiguous");
                var s = Subject(name);
                var condition = s.Condition?.Invoke(Batch, gen);
                var a = s.Try(view, gen, condition);
                if (a.Error is not null) return ("ERROR", false, a.Describe());
                return Expect.Agreement(a.Output!, s.Try(x, gen, condition).Output!, 1e-12, "ok");
            }
            case "float16":
            case "bfloat16":
            {
                var half = caseName == "float16" ? ScalarType.Float16 : ScalarType.BFloat16;
                var xh = x.to(half);
                var s = Subject(name, ScalarType.Float32);
                var condition = s.Condition?.Invoke(Batch, gen);
                // The condition goes to the float32 module in float32 (Try casts it), the same in both calls.
                return Expect.ErrorOrHalf(s.Try(xh, gen, condition), half,
                    () => s.Try(xh.to(ScalarType.Float32), gen, condition).Output!, half == ScalarType.Float16 ? 1e-2 : 6e-2);
            }
            case "wrong condition":
            {
                if (!Conditions.TryGetValue(name, out var c)) return ("n/a", true, "not conditional");
                var a = Subject(name).Try(x, gen, c.Wrong(Batch, gen));
                return Expect.ErrorRequired(a, c.WrongText);
            }
            default: throw new InvalidOperationException($"unknown case '{caseName}'");
        }
    }

    private static NormProbe Subject(string name, ScalarType dtype = ScalarType.Float64)
    {
        nn.Module module;
        Func<long, Generator, Tensor>? condition = null;
        if (Conditions.TryGetValue(name, out var c))
        {
            module = NormRegistry.CreateConditional(name, Features, c.Shape);
            condition = c.Make;
        }
        else if (NormRegistry.IsConditional(name))
            throw new InvalidOperationException($"conditional normalizer '{name}' has no example condition in the catalogue");
        else
            module = NormRegistry.Create(name, Features);
        module.to(dtype);
        module.train();
        return new NormProbe(module, condition, dtype);
    }

    private sealed record NormProbe(nn.Module Module, Func<long, Generator, Tensor>? Condition, ScalarType Dtype)
    {
        public Attempt Try(Tensor x, Generator gen, Tensor? condition = null)
        {
            condition ??= Condition?.Invoke(x.shape[0], gen);
            if (condition is not null && condition.is_floating_point() && Dtype != ScalarType.Float64) condition = condition.to(Dtype);
            return Attempt.Of(() => Module switch
            {
                nn.Module<Tensor, Tensor> plain => plain.call(x),
                nn.Module<Tensor, Tensor, Tensor> conditional => conditional.call(x, condition!),
                _ => throw new InvalidOperationException($"unexpected module type {Module.GetType()}"),
            });
        }
    }
}
