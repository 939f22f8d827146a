using NormLab.Kernels.Cpu;
using NormLab.Operations;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The whitening matrix functions run as loops (<see cref="NewtonSchulzTape"/>, <see cref="CholeskyTape"/>,
/// <see cref="EigenTape"/> for ZCA and PCA) against the composites' LibTorch ops on float64 tensors: W, and dL/dΣ against LibTorch's autograd through
/// the composite; plus finite differences of each pull-back, and their errors.
/// </summary>
public class MatrixTapeTests
{
    /// <summary>P random symmetric positive definite d × d matrices, with eps on the diagonal as the kernel's Σ has.</summary>
    private static Tensor Covariances(long problems, long d, int seed)
    {
        var g = new Generator((ulong)seed);
        var a = randn(new[] { problems, d, 2 * d + 3 }, ScalarType.Float64, generator: g);
        return a.matmul(a.transpose(1, 2)) / (2 * d + 3) + 1e-3 * eye(d, dtype: ScalarType.Float64);
    }

    private static MatrixTape Tape(string method, double[] sigma, long problems, long d, long iterations) => method switch
    {
        "itn" => NewtonSchulzTape.Run(sigma, problems, d, iterations),
        "zca" => EigenTape.Zca(sigma, problems, d),
        "pca" => EigenTape.Pca(sigma, problems, d),
        _ => CholeskyTape.Run(sigma, problems, d),
    };

    private static Whitening Composite(string method, long iterations) => method switch
    {
        "itn" => new IterativeWhitening(iterations),
        "zca" => new ZcaWhitening(),
        "pca" => new PcaWhitening(),
        _ => new CholeskyWhitening(),
    };

    private static readonly string[] Methods = { "itn", "cd", "zca", "pca" };

    /// <summary>
    /// Every method on: a 1 × 1 problem; three of 5 × 5; four of 16 × 16 (the default group, with IterNorm's
    /// default T = 5); two of 7 × 7, not a multiple of the vector width (T = 9). T is IterNorm's only.
    /// </summary>
    public static TheoryData<string, long, long, long> Cases()
    {
        var data = new TheoryData<string, long, long, long>();
        foreach (var (problems, d, iterations) in new[] { (1L, 1L, 1L), (3L, 5L, 1L), (4L, 16L, 5L), (2L, 7L, 9L) })
            foreach (var method in Methods) data.Add(method, problems, d, iterations);
        return data;
    }

    public static TheoryData<string> MethodNames => new(Methods);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_composite_and_its_autograd(string method, long problems, long d, long iterations)
    {
        using var scope = NewDisposeScope();
        var sigma = Covariances(problems, d, seed: (int)(problems * 100 + d * 10 + iterations));
        var leaf = sigma.detach().requires_grad_(true);
        var expected = Composite(method, iterations).WhiteningMatrix(leaf);
        var dW = randn(expected.shape, ScalarType.Float64, generator: new Generator(7));
        var expectedGrad = autograd.grad(new[] { expected }, new[] { leaf }, new[] { dW })[0];

        var tape = Tape(method, Values(sigma), problems, d, iterations);
        AssertClose(Values(expected.detach()), tape.Matrix);
        AssertClose(Values(expectedGrad), tape.PullBack(Values(dW)));
    }

    /// <summary>Σ moves symmetrically (the Cholesky factor reads only its lower triangle), so entry (i, j) is checked against dΣ_ij + dΣ_ji.</summary>
    [Theory]
    [MemberData(nameof(MethodNames))]
    public void Pull_back_matches_finite_differences(string method)
    {
        const long problems = 2, d = 4, iterations = 3;
        using var scope = NewDisposeScope();
        var sigma = Values(Covariances(problems, d, seed: 11));
        var dW = Values(randn(new[] { problems, d, d }, ScalarType.Float64, generator: new Generator(3)));
        double Loss(double[] s) => Tape(method, s, problems, d, iterations).Matrix.Zip(dW, (w, g) => w * g).Sum();
        var analytic = Tape(method, sigma, problems, d, iterations).PullBack(dW);
        const double h = 1e-6;
        for (long q = 0; q < problems; q++)
            for (long i = 0; i < d; i++)
                for (long j = 0; j <= i; j++)
                {
                    long ij = (q * d + i) * d + j, ji = (q * d + j) * d + i;
                    var plus = (double[])sigma.Clone();
                    var minus = (double[])sigma.Clone();
                    plus[ij] += h;
                    minus[ij] -= h;
                    if (ij != ji)
                    {
                        plus[ji] += h;
                        minus[ji] -= h;
                    }
                    double numeric = (Loss(plus) - Loss(minus)) / (2 * h);
                    double expected = ij == ji ? analytic[ij] : analytic[ij] + analytic[ji];
                    Assert.True(Math.Abs(numeric - expected) <= 1e-6 * (1 + Math.Abs(numeric)), $"{method} ({q},{i},{j}): finite difference {numeric}, pull-back {expected}");
                }
    }

    [Fact]
    public void Cholesky_rejects_a_covariance_that_is_not_positive_definite_as_the_composite_does()
    {
        var e = Assert.Throws<ArgumentException>(() => CholeskyTape.Run(new[] { 1.0, 2.0, 2.0, 1.0 }, 1, 2));
        Assert.Equal("eps", e.ParamName);
        Assert.Contains("not positive definite", e.Message);
        var composite = Assert.Throws<ArgumentException>(() => new CholeskyWhitening().WhiteningMatrix(tensor(new[] { 1.0, 2.0, 2.0, 1.0 }).view(1, 2, 2)));
        Assert.Equal(composite.Message, e.Message);
    }

    [Theory]
    [MemberData(nameof(MethodNames))]
    public void Rejects_sizes_that_do_not_match(string method)
    {
        var e = Assert.Throws<ArgumentException>(() => Tape(method, new double[10], 2, 2, 1));
        Assert.Contains("expected 2·2·2", e.Message);
        var tape = Tape(method, new[] { 2.0, 0, 0, 2.0 }, 1, 2, 1);
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
