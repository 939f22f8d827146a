using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Support;

/// <summary>
/// Finite-difference gradient checks in float64: the analytic gradient of L = sum(f(x)·G) for a fixed
/// random G is compared with central differences (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h for every element
/// of every input and parameter.
/// </summary>
public static class GradCheck
{
    /// <summary>Checks the gradients of <paramref name="f"/> with respect to <paramref name="inputs"/> and the module's parameters.</summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, nn.Module? module = null,
        double h = 1e-6, double rtol = 1e-5, double atol = 1e-7, long seed = 99)
    {
        var wrt = inputs.Select(x => x.detach().contiguous().clone().requires_grad_(true)).ToArray();
        var parameters = module?.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToArray() ?? Array.Empty<Tensor>();
        foreach (var p in parameters) p.grad?.zero_();
        var y = f(wrt);
        var g = new Rand(seed).Normal(y.shape);
        (y * g).sum().backward();
        var targets = wrt.Select((t, i) => (Name: $"input {i}", Tensor: t))
            .Concat(parameters.Select((p, i) => (Name: $"parameter {i}", Tensor: p))).ToArray();
        foreach (var (name, t) in targets)
        {
            var analytic = (t.grad ?? zeros_like(t)).clone();
            var numeric = zeros_like(t);
            using (no_grad())
            {
                var flat = t.view(-1);
                var num = numeric.view(-1);
                for (long i = 0; i < flat.shape[0]; i++)
                {
                    double orig = flat[i].item<double>();
                    flat[i] = orig + h;
                    double plus = (f(wrt) * g).sum().item<double>();
                    flat[i] = orig - h;
                    double minus = (f(wrt) * g).sum().item<double>();
                    flat[i] = orig;
                    num[i] = (plus - minus) / (2 * h);
                }
            }
            TensorAssert.Close(numeric, analytic, rtol, atol, $"gradient of {name}");
        }
    }

    /// <summary>Checks a single-input module's input and parameter gradients.</summary>
    /// <remarks>
    /// Methods built on an eigendecomposition need a larger step (about 1e-4): LAPACK's eigh carries
    /// roundoff near 1e-14 relative, which central differences divide by 2h.
    /// </remarks>
    public static void Module(nn.Module<Tensor, Tensor> module, Tensor x, double rtol = 1e-5, double atol = 1e-7, double h = 1e-6) =>
        Check(a => module.call(a[0]), new[] { x }, module, h: h, rtol: rtol, atol: atol);
}
