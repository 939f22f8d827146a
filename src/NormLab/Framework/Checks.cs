namespace NormLab.Framework;

/// <summary>Argument checks whose messages name the parameter, the value and what is allowed.</summary>
internal static class Checks
{
    public static double NonNegative(double value, string name) =>
        double.IsFinite(value) && value >= 0 ? value
            : throw new ArgumentException($"{name} ({value}) must be a finite number >= 0", name);

    public static double Positive(double value, string name) =>
        double.IsFinite(value) && value > 0 ? value
            : throw new ArgumentException($"{name} ({value}) must be a finite number > 0", name);

    public static long AtLeast(long value, long min, string name) =>
        value >= min ? value
            : throw new ArgumentException($"{name} ({value}) must be at least {min}", name);

    public static double InRange(double value, double min, double max, string name) =>
        double.IsFinite(value) && value >= min && value <= max ? value
            : throw new ArgumentException($"{name} ({value}) must be in [{min}, {max}]", name);

    /// <summary>Checks that a group count or size (≥ 1) divides the channel count (≥ 1).</summary>
    public static long Divides(long divisor, string divisorName, long channels)
    {
        AtLeast(channels, 1, "num_channels");
        AtLeast(divisor, 1, divisorName);
        return channels % divisor == 0 ? divisor
            : throw new ArgumentException($"{divisorName} ({divisor}) must divide num_channels ({channels})", divisorName);
    }

    public static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
