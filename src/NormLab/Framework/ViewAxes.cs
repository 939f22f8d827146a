namespace NormLab.Framework;

/// <summary>
/// Axes of the canonical view [A, G, Cg, S] used by <see cref="ReductionArea"/>: A is the batch axis
/// (for layer areas, every leading dim), G the channel groups, Cg the channels within a group and S the
/// flattened spatial positions. The group axis is never reduced: groups are independent.
/// </summary>
[Flags]
public enum ViewAxes
{
    /// <summary>No axis.</summary>
    None = 0,
    /// <summary>Axis 0, the samples of the mini-batch.</summary>
    Batch = 1,
    /// <summary>Axis 2, the channels within a group.</summary>
    Channel = 2,
    /// <summary>Axis 3, the spatial positions.</summary>
    Space = 4,
}

internal static class ViewAxesExtensions
{
    public static long[] Dims(this ViewAxes axes)
    {
        var dims = new List<long>(3);
        if (axes.HasFlag(ViewAxes.Batch)) dims.Add(0);
        if (axes.HasFlag(ViewAxes.Channel)) dims.Add(2);
        if (axes.HasFlag(ViewAxes.Space)) dims.Add(3);
        return dims.ToArray();
    }
}
