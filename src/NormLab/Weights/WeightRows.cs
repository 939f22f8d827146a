using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// The row view every weight method shares: a weight of shape [n, *rest] is a matrix [n, d] with one
/// row per output unit (d = fan-in), optionally split into groups of consecutive rows.
/// </summary>
internal static class WeightRows
{
    /// <summary>[n, d]: one row per output unit.</summary>
    public static Tensor Matrix(Tensor w) => w.reshape(w.shape[0], -1);

    /// <summary>d, the length of a row (the product of all dims but the first).</summary>
    public static long RowLength(long[] shape) => shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>[n, 1, ..., 1]: a per-row value that broadcasts against the weight.</summary>
    public static long[] RowShape(long[] shape) => shape.Select((s, i) => i == 0 ? s : 1L).ToArray();

    /// <summary>Rows minus their means.</summary>
    public static Tensor CenterRows(Tensor m) => m - m.mean(new long[] { -1 }, keepdim: true);

    /// <summary>Euclidean norm of each row (last dim), kept for broadcasting; its gradient at 0 is 0.</summary>
    public static Tensor RowNorms(Tensor m) => linalg.vector_norm(m, 2, new long[] { -1 }, keepdim: true);

    /// <summary>[G, n/G, d]: groups of <paramref name="rowsPerGroup"/> consecutive rows.</summary>
    public static Tensor Grouped(Tensor w, long rowsPerGroup) => w.reshape(w.shape[0] / rowsPerGroup, rowsPerGroup, -1);

    /// <summary>Rows per group: all rows when <paramref name="group"/> is null.</summary>
    public static long RowsPerGroup(long? group, long[] shape) => group ?? shape[0];

    /// <summary>Checks that the weight has rows and that groups of <paramref name="group"/> rows split them.</summary>
    /// <exception cref="ArgumentException">a scalar weight, or <paramref name="group"/> does not divide the row count.</exception>
    public static void CheckGroups(string method, long? group, long[] shape)
    {
        CheckRank(method, shape);
        if (group is { } g && (g < 1 || shape[0] % g != 0))
            throw new ArgumentException($"{method}: group ({g}) must be a positive divisor of the number of rows ({shape[0]}) of the weight {Checks.Shape(shape)}", "group");
    }

    /// <summary>Checks that the weight has rows (rank ≥ 1).</summary>
    /// <exception cref="ArgumentException">a scalar weight.</exception>
    public static void CheckRank(string method, long[] shape)
    {
        if (shape.Length == 0)
            throw new ArgumentException($"{method}: the weight must have at least 1 dim (rows), got a scalar", "weight");
    }

    /// <summary>Checks that centered rows are not identically zero, i.e. rows have at least 2 elements.</summary>
    /// <exception cref="ArgumentException">rows of 1 element.</exception>
    public static void CheckCenterable(string method, long[] shape)
    {
        CheckRank(method, shape);
        if (RowLength(shape) < 2)
            throw new ArgumentException($"{method}: rows of the weight {Checks.Shape(shape)} have 1 element, which centering makes 0; rows need at least 2 elements", "weight");
    }
}
