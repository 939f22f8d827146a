using NormLab.Analysis;
using NormLab.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Analysis;

/// <summary>Hessian-vector products, top eigenvalues, trace and spectral density against closed forms and dense Hessians (float64).</summary>
public class HessianTests
{
    private static Tensor Mse(Tensor output, Tensor target) => 0.5 * (output - target).square().sum(new long[] { 1 }).mean();

    private static nn.Module<Tensor, Tensor> MlpWithBn(long seed, long hidden = 12)
    {
        manual_seed(seed);
        var model = nn.Sequential(("fc1", nn.Linear(5, hidden)), ("bn", StandardNorms.BatchNorm1d(hidden)), ("act", nn.Tanh()), ("fc2", nn.Linear(hidden, 3)));
        model.to(ScalarType.Float64);
        return model;
    }

    private static (Tensor X, Tensor Y) Data(long seed, long n = 16)
    {
        var rand = new Rand(seed);
        return (rand.Normal(n, 5) * 2 + 1, rand.Normal(n, 3));
    }

    [Fact]
    public void Hessian_vector_product_matches_central_differences_on_an_MLP_with_BN()
    {
        var model = MlpWithBn(1);
        var h = new HessianOperator(model, Mse, new[] { Data(2) });
        var v = new Rand(3).Normal(h.Dimension);
        var hv = h.Apply(v);
        var parameters = h.Parameters;
        var w0 = cat(parameters.Select(p => p.detach().reshape(-1)).ToArray());
        Tensor GradientAt(Tensor w)
        {
            using (no_grad())
            {
                long offset = 0;
                foreach (var p in parameters) { p.copy_(w.narrow(0, offset, p.numel()).view(p.shape)); offset += p.numel(); }
            }
            return h.Gradient();
        }
        double eps = 1e-5;
        var fd = (GradientAt(w0 + v * eps) - GradientAt(w0 - v * eps)) / (2 * eps);
        GradientAt(w0);
        Assert.True(TensorAssert.RelativeError(fd, hv) < 1e-6, $"relative error {TensorAssert.RelativeError(fd, hv)}");
    }

    [Fact]
    public void Running_statistics_are_left_unchanged_by_the_analysis()
    {
        var model = MlpWithBn(4);
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var h = new HessianOperator(model, Mse, new[] { Data(5) });
        h.Apply(new Rand(6).Normal(h.Dimension));
        h.Loss();
        foreach (var (k, v) in model.state_dict()) Assert.True(TensorAssert.Same(before[k], v), $"{k} changed");
    }

    /// <summary>The linear model W [out, d] with loss mean ½‖Wx − y‖²: H = E[xxᵀ] ⊗ I_out.</summary>
    private static (HessianOperator H, double[] Eigen, double Trace) Linear(long seed, long n = 50, long d = 4, long outputs = 2)
    {
        var rand = new Rand(seed);
        var x = rand.Normal(n, d) * tensor(new double[] { 3, 1.5, 0.7, 0.2 }).narrow(0, 0, d);
        var y = rand.Normal(n, outputs);
        var model = nn.Linear(d, outputs, hasBias: false);
        model.to(ScalarType.Float64);
        var h = new HessianOperator(model, Mse, new[] { (x, y) });
        var s = x.t().matmul(x) / n;
        var eig = linalg.eigvalsh(s).data<double>().OrderByDescending(e => e).SelectMany(e => Enumerable.Repeat(e, (int)outputs)).ToArray();
        return (h, eig, s.trace().item<double>() * outputs);
    }

    [Theory]
    [InlineData(EigenMethod.Power)]
    [InlineData(EigenMethod.Lanczos)]
    public void Linear_model_top_eigenvalues_and_trace_equal_the_closed_form(EigenMethod method)
    {
        // Power iteration with deflation recovers repeated eigenvalues (each E[xx^T] eigenvalue appears
        // once per output); a single Krylov sequence (Lanczos) sees each distinct eigenvalue once.
        var (h, eigen, trace) = Linear(10, outputs: method == EigenMethod.Power ? 2 : 1);
        var (values, vectors) = HessianSpectrum.TopEigenvalues(h, 4, method, maxIterations: 5000, tolerance: 1e-15, seed: 11);
        for (int i = 0; i < 4; i++)
            Assert.True(Math.Abs(values[i] - eigen[i]) <= 1e-8 * Math.Max(1, eigen[i]), $"eigenvalue {i}: {values[i]} vs {eigen[i]}");
        foreach (var (v, lambda) in vectors.Zip(values))
            TensorAssert.Close(v * lambda, h.Apply(v), rtol: 1e-6, atol: 1e-7, what: "eigenvector");
        var estimate = HessianSpectrum.Trace(h, probes: 100, seed: 12);
        Assert.True(Math.Abs(estimate.Trace - trace) <= 1e-8 * trace, $"trace {estimate.Trace} vs {trace}");
    }

    /// <summary>The dense Hessian built row by row from autograd: each gradient component differentiated again.</summary>
    private static Tensor DenseByAutograd(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y)
    {
        var parameters = model.parameters().Cast<Tensor>().ToArray();
        var loss = Mse(model.call(x), y);
        var grads = autograd.grad(new[] { loss }, parameters, retain_graph: true, create_graph: true);
        var flat = cat(grads.Select(g => g.reshape(-1)).ToArray());
        var rows = new List<Tensor>();
        for (long i = 0; i < flat.shape[0]; i++)
        {
            var row = autograd.grad(new[] { flat[i] }, parameters, retain_graph: true, allow_unused: true);
            rows.Add(cat(row.Select((r, j) => r is null || r.IsInvalid ? zeros(parameters[j].numel(), dtype: ScalarType.Float64) : r.reshape(-1)).ToArray()));
        }
        return stack(rows);
    }

    [Fact]
    public void Small_MLP_eigenvalues_and_trace_agree_with_the_full_Hessian()
    {
        var model = MlpWithBn(20);
        model.eval();
        var (x, y) = Data(21, 32);
        var dense = DenseByAutograd(model, x, y);
        var h = new HessianOperator(model, Mse, new[] { (x, y) });
        TensorAssert.Close(dense, h.Dense(), rtol: 1e-8, atol: 1e-10, what: "dense Hessian");
        var eig = linalg.eigvalsh((dense + dense.t()) / 2).data<double>();
        var byMagnitude = eig.OrderByDescending(Math.Abs).ToArray();
        var (power, _) = HessianSpectrum.TopEigenvalues(h, 3, EigenMethod.Power, maxIterations: 3000, tolerance: 1e-13, seed: 22);
        for (int i = 0; i < 3; i++)
            Assert.True(Math.Abs(power[i] - byMagnitude[i]) <= 1e-6 * Math.Abs(byMagnitude[0]), $"power eigenvalue {i}: {power[i]} vs {byMagnitude[i]}");
        var (lanczos, _) = HessianSpectrum.TopEigenvalues(h, 3, EigenMethod.Lanczos, seed: 23);
        var largest = eig.OrderByDescending(e => e).ToArray();
        for (int i = 0; i < 3; i++)
            Assert.True(Math.Abs(lanczos[i] - largest[i]) <= 1e-6 * Math.Abs(largest[0]), $"lanczos eigenvalue {i}: {lanczos[i]} vs {largest[i]}");
        double exact = dense.trace().item<double>();
        Assert.True(h.Dimension > 100, "the model must be larger than the probe count so Hutchinson is used");
        var hutchinson = HessianSpectrum.Trace(h, probes: 100, seed: 24);
        var hutchPlusPlus = HessianSpectrum.TraceHutchPlusPlus(h, products: 100, seed: 24);
        Console.WriteLine($"trace: exact {exact}, Hutchinson {hutchinson.Trace} (stderr {hutchinson.StandardError}), Hutch++ {hutchPlusPlus.Trace}");
        Assert.True(Math.Abs(hutchinson.Trace - exact) <= 3 * hutchinson.StandardError, $"Hutchinson {hutchinson.Trace} vs exact {exact} (stderr {hutchinson.StandardError})");
        Assert.True(Math.Abs(hutchPlusPlus.Trace - exact) <= 0.05 * Math.Abs(exact), $"Hutch++ {hutchPlusPlus.Trace} vs exact {exact}");
    }

    [Fact]
    public void Spectral_density_integrates_to_one_with_mass_at_the_exact_eigenvalues()
    {
        var (h, eigen, _) = Linear(30, d: 4, outputs: 1);
        var density = HessianSpectrum.Density(h, steps: 10, runs: 3, gridPoints: 4000, seed: 31);
        double integral = 0;
        for (int i = 1; i < density.Grid.Length; i++)
            integral += (density.Grid[i] - density.Grid[i - 1]) * (density.Values[i] + density.Values[i - 1]) / 2;
        Assert.InRange(integral, 1 - 1e-6, 1 + 1e-6);
        Assert.Equal(1, density.Weights.Sum(), 10);
        foreach (var node in density.Nodes)
            Assert.Contains(eigen, e => Math.Abs(e - node) <= 1e-8 * Math.Max(1, e));
        foreach (var e in eigen)
            Assert.True(density.Nodes.Where(t => Math.Abs(t - e) <= 1e-8 * Math.Max(1, e)).Select((_, i) => i).Any(), $"no mass at eigenvalue {e}");
    }

    [Fact]
    public void Analysis_runs_in_float32_and_is_reproducible_with_a_seed()
    {
        var model = MlpWithBn(40);
        model.to(ScalarType.Float32);
        var (x, y) = Data(41);
        var h = new HessianOperator(model, Mse, new[] { (x.to(ScalarType.Float32), y.to(ScalarType.Float32)) });
        var a = HessianSpectrum.TopEigenvalues(h, 2, seed: 5).Values;
        var b = HessianSpectrum.TopEigenvalues(h, 2, seed: 5).Values;
        Assert.Equal(a, b);
        Assert.Equal(HessianSpectrum.Trace(h, 20, seed: 6).Trace, HessianSpectrum.Trace(h, 20, seed: 6).Trace);
        Assert.True(double.IsFinite(a[0]) && a[0] > 0);
    }

    [Fact]
    public void Bad_inputs_give_clear_errors()
    {
        var model = MlpWithBn(50);
        var e = Assert.ThrowsAny<ArgumentException>(() => new HessianOperator(model, Mse, Array.Empty<(Tensor, Tensor)>()));
        Assert.Contains("data set is empty", e.Message);
        var h = new HessianOperator(model, Mse, new[] { Data(51) });
        e = Assert.ThrowsAny<ArgumentException>(() => h.Apply(ones(3, dtype: ScalarType.Float64)));
        Assert.Contains($"vectors of size {h.Dimension}", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => HessianSpectrum.TopEigenvalues(h, 0));
        Assert.Contains("k (0)", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => new HessianOperator(model, Mse, new[] { (ones(4, 5), ones(3, 3)) }));
        Assert.Contains("same number of samples", e.Message);
    }
}
