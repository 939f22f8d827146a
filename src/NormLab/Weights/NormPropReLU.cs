using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// The activation half of normalization propagation (Arpit et al. 2016): y = (ReLU(x) − sqrt(1/(2π))) /
/// sqrt((1/2)(1 − 1/π)), which makes ReLU(z) of a standard normal z zero-mean and unit-variance again.
/// </summary>
/// <remarks>
/// Data-independent: the constants are the analytic mean and variance of ReLU(z), z ~ N(0, 1), as in the
/// authors' code (post_act_normalize). No state. Use after a layer reparametrized by <see cref="NormProp"/>.
/// </remarks>
public sealed class NormPropReLU : NormModule
{
    /// <summary>E[ReLU(z)] = sqrt(1/(2π)) for z ~ N(0, 1).</summary>
    public static readonly double Mean = Math.Sqrt(1 / (2 * Math.PI));

    /// <summary>Var[ReLU(z)] = (1/2)(1 − 1/π) for z ~ N(0, 1).</summary>
    public static readonly double Variance = 0.5 * (1 - 1 / Math.PI);

    /// <summary>Creates the activation.</summary>
    public NormPropReLU() : base("NormPropReLU") { }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return ((nn.functional.relu(x) - Mean) / Math.Sqrt(Variance)).MoveToOuterDisposeScope();
    }
}
