using NormLab.Kernels.Cpu;
using NormLab.Operations;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// <see cref="NewtonSchulzTape"/> against the composite iteration (<c>NewtonSchulz.InverseSqrt</c> on float64
/// tensors): W, and dL/dΣ against LibTorch's autograd through the composite, plus a finite-difference check
/// of the pull-back itself.
/// </summary>
public class NewtonSchulzTapeTests
{
    /// <summary>P random symmetric positive definite d × d matrices, with eps on the diagonal as the kernel's Σ has.</summary>
    private static Tensor Covariances(long problems, long d, int seed)
    {
        var g = new Generator((ulong)seed);
        var a = randn(new[] { problems, d, 2 * d + 3 }, ScalarType.Float64, generator: g);
        return a.matmul(a.transpose(1, 2)) / (2 * d + 3) + 1e-3 * eye(d, dtype: ScalarType.Float64);
    }

    [Theory]
    [InlineData(1, 1, 1)]   // a 1 × 1 problem: W = 1/√σ after any T
    [InlineData(3, 5, 1)]
    [InlineData(4, 16, 5)]  // IterNorm's default T at group 16
    [InlineData(2, 7, 9)]   // d not a multiple of the vector width
    public void Matches_the_composite_and_its_autograd(long problems, long d, long iterations)
    {
        using var scope = NewDisposeScope();
        var sigma = Covariances(problems, d, seed: (int)(problems * 100 + d * 10 + iterations));
        var leaf = sigma.detach().requires_grad_(true);
        var expected = NewtonSchulz.InverseSqrt(leaf, iterations);
        var dW = randn(expected.shape, ScalarType.Float64, generator: new Generator(7));
        var expectedGrad = autograd.grad(new[] { expected }, new[] { leaf }, new[] { dW })[0];

        var tape = NewtonSchulzTape.Run(Values(sigma), problems, d, iterations);
        AssertClose(Values(expected.detach()), tape.Matrix);
        AssertClose(Values(expectedGrad), tape.PullBack(Values(dW)));
    }

    [Fact]
    public void Pull_back_matches_finite_differences()
    {
        const long problems = 2, d = 4, iterations = 3;
        using var scope = NewDisposeScope();
        var sigma = Values(Covariances(problems, d, seed: 11));
        var dW = Values(randn(new[] { problems, d, d }, ScalarType.Float64, generator: new Generator(3)));
        double Loss(double[] s) => NewtonSchulzTape.Run(s, problems, d, iterations).Matrix.Zip(dW, (w, g) => w * g).Sum();
        var analytic = NewtonSchulzTape.Run(sigma, problems, d, iterations).PullBack(dW);
        const double h = 1e-6;
        for (int e = 0; e < sigma.Length; e++)
        {
            var plus = (double[])sigma.Clone();
            var minus = (double[])sigma.Clone();
            plus[e] += h;
            minus[e] -= h;
            double numeric = (Loss(plus) - Loss(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[e]) <= 1e-6 * (1 + Math.Abs(numeric)), $"entry {e}: finite difference {numeric}, pull-back {analytic[e]}");
        }
    }

    [Fact]
    public void Rejects_sizes_that_do_not_match()
    {
        var e = Assert.Throws<ArgumentException>(() => NewtonSchulzTape.Run(new double[10], 2, 2, 1));
        Assert.Contains("expected 2·2·2", e.Message);
        var tape = NewtonSchulzTape.Run(new[] { 2.0, 0, 0, 2.0 }, 1, 2, 1);
        Assert.Throws<ArgumentException>(() => tape.PullBack(new double[3]));
    }

    private static double[] Values(Tensor t) => t.contiguous().data<double>().ToArray();

    private static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * (1 + scale), $"entry {i}: expected {expected[i]}, got {actual[i]}");
    }
}
