using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>
/// The eigenvalues of a symmetric positive semi-definite matrix (a second-moment or covariance
/// matrix, or a Hessian), in decreasing order, and the quantities of the survey's least-squares
/// example derived from them.
/// </summary>
/// <remarks>
/// For a linear model with squared loss, H = E[xxᵀ] (⊗ I): gradient descent converges for learning
/// rates below 2/λmax, the best fixed rate is about 1/λmax, and the iteration count grows with
/// κ = λmax/λmin.
/// </remarks>
public sealed record Spectrum(double[] Eigenvalues)
{
    /// <summary>λmax.</summary>
    public double LambdaMax => Eigenvalues[0];

    /// <summary>λmin.</summary>
    public double LambdaMin => Eigenvalues[^1];

    /// <summary>κ = λmax/λmin (infinity for a singular matrix).</summary>
    public double ConditionNumber => LambdaMin > 0 ? LambdaMax / LambdaMin : double.PositiveInfinity;

    /// <summary>The optimal gradient-descent step for the quadratic, 1/λmax.</summary>
    public double OptimalLearningRate => 1 / LambdaMax;

    /// <summary>The divergence bound 2/λmax: larger steps diverge.</summary>
    public double MaxStableLearningRate => 2 / LambdaMax;
}

/// <summary>Second moments, covariances and their spectra (survey §5, conditioning analysis).</summary>
public static class Conditioning
{
    /// <summary>E[xxᵀ] of the rows of <paramref name="x"/> [n, d], in float64.</summary>
    /// <exception cref="ArgumentException">x not 2-D or with fewer than 2 rows.</exception>
    public static Tensor SecondMoment(Tensor x)
    {
        var rows = Rows(x);
        return rows.t().matmul(rows) / rows.shape[0];
    }

    /// <summary>The biased covariance E[(x − μ)(x − μ)ᵀ] of the rows of <paramref name="x"/> [n, d], in float64.</summary>
    public static Tensor Covariance(Tensor x)
    {
        var rows = Rows(x);
        var centered = rows - rows.mean(new long[] { 0 }, keepdim: true);
        return centered.t().matmul(centered) / rows.shape[0];
    }

    /// <summary>The eigenvalues of a symmetric matrix, descending; tiny negative round-off is clamped to 0.</summary>
    /// <exception cref="ArgumentException">the matrix is not square, or not finite.</exception>
    public static Spectrum SpectrumOf(Tensor matrix)
    {
        if (matrix.dim() != 2 || matrix.shape[0] != matrix.shape[1] || matrix.shape[0] == 0)
            throw new ArgumentException($"matrix of shape {Checks.Shape(matrix.shape)} must be square and non-empty", nameof(matrix));
        using var scope = NewDisposeScope();
        var m = matrix.detach().to(ScalarType.Float64);
        if (!m.isfinite().all().item<bool>())
            throw new ArgumentException("matrix contains NaN or infinity", nameof(matrix));
        var symmetric = (m + m.t()) / 2;
        var values = linalg.eigvalsh(symmetric).flip(0).clamp_min(0);
        return new Spectrum(values.data<double>().ToArray());
    }

    /// <summary>
    /// The second-moment matrices E[xxᵀ] (or covariances, with <paramref name="centered"/>) of the inputs of
    /// named layers, collected with forward pre-hooks while <paramref name="model"/> runs on the batches
    /// (no gradients, buffers restored afterwards). A layer input [N, d] gives d features; an input
    /// [N, C, *spatial] gives C features with one sample per position, the channel statistics a
    /// normalizer sees.
    /// </summary>
    /// <exception cref="ArgumentException">an unknown layer, no batches, or fewer than 2 samples at a layer.</exception>
    public static Dictionary<string, Tensor> LayerInputs(nn.Module<Tensor, Tensor> model, IEnumerable<string> layers, IEnumerable<Tensor> batches, bool centered = false)
    {
        var modules = model.named_modules().Where(m => m.name.Length > 0).ToDictionary(m => m.name, m => m.module);
        var sums = new Dictionary<string, (Tensor? Outer, Tensor? Sum, long Count)>();
        var removers = new List<Action>();
        var saved = model.buffers().Select(b => (b, b.detach().clone())).ToList();
        try
        {
            foreach (var name in layers)
            {
                if (!modules.TryGetValue(name, out var module) || module is not nn.Module<Tensor, Tensor> layer)
                    throw new ArgumentException($"layer '{name}' is not a single-input submodule; the model has: {string.Join(", ", modules.Keys)}", nameof(layers));
                sums[name] = (null, null, 0);
                var remover = layer.register_forward_pre_hook((_, input) =>
                {
                    var rows = (input.dim() > 2 ? input.flatten(2).transpose(1, 2).reshape(-1, input.shape[1]) : input.reshape(input.shape[0], -1))
                        .detach().to(ScalarType.Float64);
                    var (outer, sum, count) = sums[name];
                    var o = rows.t().matmul(rows);
                    var s = rows.sum(new long[] { 0 });
                    sums[name] = ((outer is null ? o : outer + o).DetachFromDisposeScope(), (sum is null ? s : sum + s).DetachFromDisposeScope(), count + rows.shape[0]);
                    return input;
                });
                removers.Add(remover.remove);
            }
            bool any = false;
            using (no_grad())
                foreach (var batch in batches)
                {
                    using var scope = NewDisposeScope();
                    model.call(batch);
                    any = true;
                }
            if (!any) throw new ArgumentException("the data set is empty", nameof(batches));
            var result = new Dictionary<string, Tensor>();
            foreach (var (name, (outer, sum, count)) in sums)
            {
                if (count < 2) throw new ArgumentException($"layer '{name}' saw {count} samples; at least 2 are needed", nameof(batches));
                var second = outer! / count;
                if (centered)
                {
                    var mean = sum! / count;
                    second = second - mean.outer(mean);
                }
                result[name] = second;
            }
            return result;
        }
        finally
        {
            foreach (var remove in removers) remove();
            using (no_grad()) foreach (var (b, copy) in saved) b.copy_(copy);
        }
    }

    private static Tensor Rows(Tensor x)
    {
        if (x.dim() != 2)
            throw new ArgumentException($"x of shape {Checks.Shape(x.shape)} must be [n, d] (rows are samples)", nameof(x));
        if (x.shape[0] < 2)
            throw new ArgumentException($"x has {x.shape[0]} rows; at least 2 samples are needed", nameof(x));
        return x.detach().to(ScalarType.Float64);
    }
}
