using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Recoveries;

/// <summary>No recovery: the output is the normalized tensor (PyTorch's <c>affine=False</c>).</summary>
public sealed class IdentityRecovery : Recovery
{
    /// <inheritdoc />
    public override string Name => "identity";

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input) => normalized;
}
