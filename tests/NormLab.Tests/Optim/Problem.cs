using NormLab.Optim;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Tests.Optim;

/// <summary>
/// A fixed float64 optimization problem: a linear weight [4, 3], a conv weight [3, 2, 2, 2] and a bias [4],
/// and a sequence of gradients per step with different scales per tensor (so trust ratios, clipping and
/// exclusion all take both branches).
/// </summary>
public sealed class Problem
{
    public static readonly long[][] Shapes = { new long[] { 4, 3 }, new long[] { 3, 2, 2, 2 }, new long[] { 4 } };
    private static readonly double[] GradScales = { 1.0, 30.0, 1e-3 };

    public Problem(long seed = 11, int steps = 5)
    {
        var rand = new Rand(seed);
        Weights = Shapes.Select(s => rand.Normal(s)).ToArray();
        Grads = Enumerable.Range(0, steps).Select(_ => Shapes.Select((s, i) => rand.Normal(s) * GradScales[i]).ToArray()).ToArray();
    }

    public Tensor[] Weights { get; }

    /// <summary>Grads[step][tensor].</summary>
    public Tensor[][] Grads { get; }

    /// <summary>Fresh parameters holding copies of the initial weights.</summary>
    public Parameter[] Parameters() => Weights.Select(w => new Parameter(w.clone(), requires_grad: true)).ToArray();

    /// <summary>Sets every parameter's gradient to a copy of step <paramref name="step"/>'s gradients.</summary>
    public void SetGrads(Parameter[] ps, int step)
    {
        for (int i = 0; i < ps.Length; i++) ps[i].grad = Grads[step][i].clone();
    }

    /// <summary>Runs <paramref name="steps"/> optimizer steps and the reference alongside, comparing parameters and state after each.</summary>
    public void AssertMatches(Func<Parameter[], NormOptimizer> create, Hyper hyper, int steps, double tol = 1e-12)
    {
        var ps = Parameters();
        using var optimizer = create(ps);
        var reference = new ReferenceOptimizer(hyper);
        var expected = Weights.Select(w => w.clone()).ToArray();
        for (int k = 0; k < steps; k++)
        {
            SetGrads(ps, k);
            optimizer.step();
            expected = reference.Step(expected, Grads[k]);
            for (int i = 0; i < ps.Length; i++)
            {
                string what = $"{hyper.Kind} step {k + 1} tensor {i}";
                TensorAssert.Close(expected[i], ps[i], rtol: tol, atol: tol, what: what);
                AssertState(optimizer.StateOf(ps[i]), reference.State(i), hyper, tol, what);
            }
        }
    }

    private static void AssertState(ParameterState actual, RefState expected, Hyper hyper, double tol, string what)
    {
        var h = hyper.Inner ?? hyper;
        if (h.Kind is "sgd" or "lars")
        {
            if (h.Momentum == 0) Assert.Null(actual["momentum_buffer"]);
            else TensorAssert.Close(expected.Buffer!, actual["momentum_buffer"]!, rtol: tol, atol: tol, what: what + " momentum_buffer");
        }
        else
        {
            Assert.Equal(expected.T, actual.step);
            TensorAssert.Close(expected.M!, actual["exp_avg"]!, rtol: tol, atol: tol, what: what + " exp_avg");
            TensorAssert.Close(expected.V!, actual["exp_avg_sq"]!, rtol: tol, atol: tol, what: what + " exp_avg_sq");
        }
    }
}
