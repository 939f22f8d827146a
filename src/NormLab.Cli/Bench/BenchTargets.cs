using NormLab.Framework;
using NormLab.Kernels;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Bench;

/// <summary>
/// Builds the benchmark targets: every plain registry normalizer (conditional ones need a condition
/// and are skipped), plus the bench-only <c>ws</c> (weight standardization, which lives outside the
/// normalizer registry). The default shape is [32, 64, 56, 56]; LN and RMS also run on [8, 512, 768]
/// normalized over the last dim (<c>ln(dims=1)</c>, <c>rms(dims=1)</c>), the transformer case.
/// </summary>
internal static class BenchTargets
{
    /// <summary>The default image shape.</summary>
    public static readonly long[] ImageShape = { 32, 64, 56, 56 };

    /// <summary>The default sequence shape for LN and RMS.</summary>
    public static readonly long[] SequenceShape = { 8, 512, 768 };

    /// <summary>The (spec, shape) pairs run when the user names none.</summary>
    public static IReadOnlyList<(string Spec, long[] Shape)> Defaults(long[]? shape)
    {
        var list = new List<(string, long[])>();
        foreach (var e in NormRegistry.Entries)
            if (!NormRegistry.IsConditional(e.Name))
                list.Add((e.Name, shape ?? ImageShape));
        list.Add(("ws", shape ?? ImageShape));
        if (shape is null)
        {
            list.Add(("ln(dims=1)", SequenceShape));
            list.Add(("rms(dims=1)", SequenceShape));
        }
        return list;
    }

    /// <summary>Whether a spec names a normalizer the bench can time.</summary>
    /// <exception cref="SpecException">an unknown name or a conditional normalizer.</exception>
    public static void Check(string spec)
    {
        var name = Spec.Parse(spec).Name;
        if (name == "ws") return;
        if (NormRegistry.IsConditional(spec))
            throw new SpecException($"'{spec}' is a conditional normalizer; bench times plain normalizers and ws");
    }

    /// <summary>Creates the target for a spec on float32 inputs of <paramref name="shape"/>.</summary>
    public static BenchTarget Create(string spec, long[] shape, Generator generator)
    {
        if (Spec.Parse(spec).Name == "ws") return WeightStandardization(spec, shape, generator);
        var module = NormRegistry.Create(spec, shape[1..]);
        module.to(ScalarType.Float32);
        module.train();
        var x = randn(shape, ScalarType.Float32, generator: generator).requires_grad_(true);
        var parameters = module.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToArray();
        Func<Tensor, Tensor>? native = module is Normalizer layer && NativeKernels.Match(layer) is not null
            ? Under(KernelMode.Native, module)
            : null;
        return new BenchTarget(spec, shape, x, parameters, Under(KernelMode.Fused, module), native, Under(KernelMode.Composite, module), module);
    }

    private static Func<Tensor, Tensor> Under(KernelMode mode, nn.Module<Tensor, Tensor> module) => x =>
    {
        using var _ = KernelPolicy.Use(mode);
        return module.call(x);
    };

    /// <summary>
    /// Weight standardization of a weight of the given shape read as [out, in, kh, kw]: NormLab's fused
    /// kernel against the plain formula (the composite). Keys: mode = official (unbiased std, eps outside
    /// the root; default) or biased (eps inside), eps (default 1e-5 official, 1e-6 biased).
    /// </summary>
    private static BenchTarget WeightStandardization(string spec, long[] shape, Generator generator)
    {
        var parsed = Spec.Parse(spec);
        bool official = true;
        double? eps = null;
        foreach (var (key, value) in parsed.Args)
        {
            if (key == "mode" && value.Text is "official" or "biased") official = value.Text == "official";
            else if (key == "eps" && double.TryParse(value.Text, System.Globalization.CultureInfo.InvariantCulture, out var e) && e >= 0) eps = e;
            else throw new SpecException($"ws: unknown key or bad value '{key}={value}'; valid: mode=official|biased, eps (>= 0)");
        }
        if (shape.Length < 2)
            throw new ArgumentException($"ws needs a weight shape with at least 2 dims, got {Checks.Shape(shape)}");
        double epsValue = eps ?? (official ? 1e-5 : 1e-6);
        var w = randn(shape, ScalarType.Float32, generator: generator).requires_grad_(true);
        Func<Tensor, Tensor> composite = weight => FormulaWeightStandardization(weight, epsValue, official);
        Func<Tensor, Tensor> normlab = weight => FusedWeightStandardization.TryApply(weight, epsValue, official) ?? composite(weight);
        return new BenchTarget(spec, shape, w, Array.Empty<Tensor>(), normlab, null, composite);
    }

    /// <summary>The plain formula: rows [out, rest] centered and divided by the (un)biased std.</summary>
    internal static Tensor FormulaWeightStandardization(Tensor w, double eps, bool official)
    {
        var rows = w.reshape(w.shape[0], -1);
        long d = rows.shape[1];
        var centered = rows - rows.mean(new long[] { 1 }, keepdim: true);
        var squares = centered.square().sum(new long[] { 1 }, keepdim: true);
        var scale = official ? (squares / (d - 1)).sqrt() + eps : (squares / d + eps).sqrt();
        return (centered / scale).reshape(w.shape);
    }
}
