using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Cli.Catalogue;

/// <summary>
/// The bad-input cases for every entry of <see cref="OptimizerRegistry"/>, with its default spec, on a
/// weight [6, 4] and a bias [6].
/// </summary>
internal static class OptimizerCases
{
    /// <summary>The case names, in table order.</summary>
    public static readonly string[] Names = { "grad shape", "grad dtype", "NaN grad", "Inf grad", "zero-size param", "float16", "bfloat16" };

    /// <summary>Runs one case on one entry: (outcome, passed, detail).</summary>
    public static (string, bool, string) RunCase(string name, string caseName)
    {
        var gen = new Generator(5);
        var ps = Parameters(ScalarType.Float64, gen, 6);
        switch (caseName)
        {
            case "grad shape":
                ps[0].grad = randn(new long[] { 4, 6 }, ScalarType.Float64, generator: gen);
                ps[1].grad = randn(new long[] { 6 }, ScalarType.Float64, generator: gen);
                return Expect.ErrorRequired(Step(name, ps), "[4, 6]");
            case "grad dtype":
                ps[0].grad = randn(new long[] { 6, 4 }, ScalarType.Float32, generator: gen);
                ps[1].grad = randn(new long[] { 6 }, ScalarType.Float64, generator: gen);
                return Expect.ErrorRequired(Step(name, ps), "Float32", "float32");
            case "NaN grad":
            case "Inf grad":
            {
                var g = randn(new long[] { 6, 4 }, ScalarType.Float64, generator: gen);
                g[0, 0] = caseName == "NaN grad" ? double.NaN : double.PositiveInfinity;
                ps[0].grad = g;
                ps[1].grad = randn(new long[] { 6 }, ScalarType.Float64, generator: gen);
                return Expect.ErrorOrPropagation(Step(name, ps));
            }
            case "zero-size param":
            {
                var empty = new Parameter(zeros(new long[] { 0, 4 }, ScalarType.Float64));
                empty.grad = zeros(new long[] { 0, 4 }, ScalarType.Float64);
                ps[0].grad = randn(new long[] { 6, 4 }, ScalarType.Float64, generator: gen);
                ps[1].grad = randn(new long[] { 6 }, ScalarType.Float64, generator: gen);
                var a = Step(name, new[] { ps[0], ps[1], empty });
                if (a.Error is not null) return a.IsClearError("[0, 4]", "empty", "zero-size") ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe());
                return a.Output!.isfinite().all().item<bool>() ? ("ok", true, "the others step, finite") : ("SILENT NaN", false, "non-finite parameters");
            }
            case "float16":
            case "bfloat16":
            {
                var half = caseName == "float16" ? ScalarType.Float16 : ScalarType.BFloat16;
                var reduced = Parameters(half, new Generator(5), 6);
                var full = reduced.Select(p => new Parameter(p.detach().to(ScalarType.Float32))).ToArray();
                var grads = reduced.Select(p => randn(p.shape, ScalarType.Float32, generator: gen).to(half)).ToArray();
                for (int i = 0; i < reduced.Length; i++) { reduced[i].grad = grads[i]; full[i].grad = grads[i].to(ScalarType.Float32); }
                var a = Step(name, reduced);
                if (a.Error is null && reduced.Any(p => p.dtype != half)) return ("WRONG", false, "a parameter changed dtype");
                return Expect.ErrorOrHalf(a, half, () => Step(name, full).Output!, half == ScalarType.Float16 ? 2e-3 : 2e-2);
            }
            default: throw new InvalidOperationException($"unknown case '{caseName}'");
        }
    }

    private static Parameter[] Parameters(ScalarType dtype, Generator gen, long rows) => new[]
    {
        new Parameter(randn(new[] { rows, 4L }, ScalarType.Float32, generator: gen).to(dtype)),
        new Parameter(randn(new[] { rows }, ScalarType.Float32, generator: gen).to(dtype)),
    };

    /// <summary>One step; the output is every parameter flattened and concatenated.</summary>
    private static Attempt Step(string name, IReadOnlyList<Parameter> ps) => Attempt.Of(() =>
    {
        using var optimizer = OptimizerRegistry.Create(name, ps);
        optimizer.step();
        return cat(ps.Select(p => p.detach().flatten()).ToArray());
    });

}
