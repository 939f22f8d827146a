using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Catalogue;

/// <summary>
/// The bad-input cases for every entry of <see cref="WeightNormRegistry"/>, applied with its default
/// spec to a Conv2d(4, 6, 3) (or the layer the case names) and run on inputs [2, 4, 5, 5].
/// </summary>
internal static class WeightNormCases
{
    /// <summary>The case names, in table order.</summary>
    public static readonly string[] Names = { "1-d weight", "zero-size weight", "NaN weight", "Inf weight", "permuted input", "float16", "bfloat16" };

    /// <summary>Runs one case on one entry: (outcome, passed, detail).</summary>
    public static (string, bool, string) RunCase(string name, string caseName)
    {
        var gen = new Generator(11);
        var x = randn(new long[] { 2, 4, 5, 5 }, ScalarType.Float64, generator: gen);
        switch (caseName)
        {
            case "1-d weight":
            {
                var a = Attempt.Of(() => Forward(WeightNormRegistry.Apply(nn.LayerNorm(6).to(ScalarType.Float64), name), randn(new long[] { 3, 6 }, ScalarType.Float64, generator: gen)));
                return Expect.ErrorOrFinite(a, "1 dim", "[6]", "rank", "dims");
            }
            case "zero-size weight":
            {
                var a = Attempt.Of(() => Forward(WeightNormRegistry.Apply(nn.Linear(4, 0).to(ScalarType.Float64), name), randn(new long[] { 3, 4 }, ScalarType.Float64, generator: gen)));
                if (a.Error is not null) return a.IsClearError("[0, 4]", "empty", "zero-size", "0 rows") ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe());
                return a.Output!.numel() == 0 ? ("empty", true, a.Describe()) : ("WRONG", false, a.Describe());
            }
            case "NaN weight":
            case "Inf weight":
            {
                var conv = Conv(ScalarType.Float64);
                using (no_grad()) conv.weight![0, 0, 0, 0] = caseName == "NaN weight" ? double.NaN : double.PositiveInfinity;
                return Expect.ErrorOrPropagation(Attempt.Of(() => Forward(WeightNormRegistry.Apply(conv, name), x)));
            }
            case "permuted input":
            {
                var view = x.transpose(2, 3).contiguous().transpose(2, 3);
                var conv = WeightNormRegistry.Apply(Conv(ScalarType.Float64), name);
                conv.eval(); // spectral normalization's power iteration advances on every training forward
                var a = Attempt.Of(() => Forward(conv, view));
                if (a.Error is not null) return ("ERROR", false, a.Describe());
                return Expect.Agreement(a.Output!, Forward(conv, x), 1e-12, "ok");
            }
            case "float16":
            case "bfloat16":
            {
                var half = caseName == "float16" ? ScalarType.Float16 : ScalarType.BFloat16;
                var full = Conv(ScalarType.Float32);
                var reduced = Conv(ScalarType.Float32);
                reduced.load_state_dict(full.state_dict());
                using (no_grad()) full.weight!.copy_(full.weight!.to(half).to(ScalarType.Float32));
                using (no_grad()) reduced.weight!.copy_(full.weight!);
                reduced.to(half);
                // The same seed before each apply: spectral normalization draws its power-iteration vector u.
                manual_seed(3);
                var a = Attempt.Of(() => EffectiveWeight(WeightNormRegistry.Apply(reduced, name)));
                manual_seed(3);
                return Expect.ErrorOrHalf(a, half, () => EffectiveWeight(WeightNormRegistry.Apply(full, name)), half == ScalarType.Float16 ? 1e-2 : 6e-2);
            }
            default: throw new InvalidOperationException($"unknown case '{caseName}'");
        }
    }

    private static TorchSharp.Modules.Conv2d Conv(ScalarType dtype)
    {
        var conv = nn.Conv2d(4, 6, 3);
        conv.to(dtype);
        return conv;
    }

    private static Tensor Forward(nn.Module module, Tensor x) => ((nn.Module<Tensor, Tensor>)module).call(x);

    /// <summary>The weight the module computes with, after the reparametrization's forward hook.</summary>
    private static Tensor EffectiveWeight(TorchSharp.Modules.Conv2d conv)
    {
        var dtype = conv.parameters().First().dtype;
        using (no_grad()) conv.call(zeros(new long[] { 1, 4, 3, 3 }, dtype));
        return conv.weight!.detach().clone();
    }

}
