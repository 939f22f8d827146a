using static TorchSharp.torch;

namespace NormLab.Recoveries;

/// <summary>Reshapes per-channel ([C]) or per-sample-and-channel ([N, C]) values to broadcast against an input [N, C, *spatial].</summary>
internal static class ChannelBroadcast
{
    /// <summary>[C] or [N, C] viewed as [1 or N, C, 1, …] with the rank of <paramref name="like"/>.</summary>
    public static Tensor Over(Tensor values, Tensor like)
    {
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        if (values.dim() == 2) shape[0] = values.shape[0];
        shape[1] = values.shape[^1];
        return values.view(shape);
    }
}
