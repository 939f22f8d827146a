using static TorchSharp.torch;

namespace NormLab.Cli.Catalogue;

/// <summary>What one bad-input case did to one registry entry, and whether that is the documented behaviour.</summary>
/// <param name="Kind">normalizer, weight normalizer or optimizer.</param>
/// <param name="Entry">The registry name.</param>
/// <param name="Case">The case's short name.</param>
/// <param name="Outcome">The observed behaviour: <c>error</c>, <c>ok</c>, <c>ok (f32 acc)</c>, <c>NaN</c>, <c>empty</c>, <c>n/a</c>, or a failure in capitals.</param>
/// <param name="Passed">Whether the outcome is one the case allows.</param>
/// <param name="Detail">The error message or the measured deviation.</param>
public sealed record CaseResult(string Kind, string Entry, string Case, string Outcome, bool Passed, string Detail);

/// <summary>One observed call: it returned a tensor or threw.</summary>
internal sealed record Attempt(Tensor? Output, Exception? Error, double Seconds)
{
    /// <summary>Runs <paramref name="run"/> and records what happened.</summary>
    public static Attempt Of(Func<Tensor> run)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try { return new Attempt(run(), null, clock.Elapsed.TotalSeconds); }
        catch (Exception e) { return new Attempt(null, e, clock.Elapsed.TotalSeconds); }
    }

    /// <summary>
    /// A clear error: an argument-type exception (the library's validation, not a LibTorch failure) with a
    /// one-line message that names the offending value (contains one of <paramref name="values"/>).
    /// </summary>
    public bool IsClearError(params string[] values) =>
        Error is ArgumentException or NotSupportedException
        && !Error.Message.Contains('\n')
        && values.Any(v => Error.Message.Contains(v, StringComparison.OrdinalIgnoreCase));

    /// <summary>The message in one line, or a description of the output.</summary>
    public string Describe() => Error is { } e ? $"{e.GetType().Name}: {Cli.OneLine(e.Message)}" : Output is null ? "no output" : $"output {Output.dtype} [{string.Join(", ", Output.shape)}]";
}

/// <summary>The behaviours a case allows, as checks on an <see cref="Attempt"/>: (outcome, passed, detail).</summary>
internal static class Expect
{
    /// <summary>Non-finite values: a clear error that names them, or an output (non-finite where they propagate, as in PyTorch), within 10 s.</summary>
    public static (string, bool, string) ErrorOrPropagation(Attempt a)
    {
        if (a.Error is not null) return a.IsClearError("NaN", "Inf", "finite") ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe());
        if (a.Seconds > 10) return ("SLOW", false, $"{a.Seconds:F1} s");
        return a.Output!.isfinite().all().item<bool>() ? ("ok", true, "finite output") : ("NaN", true, $"non-finite output, {a.Seconds * 1000:F0} ms");
    }

    /// <summary>Half precision: a clear error naming the dtype, or an output of that dtype that agrees with the float32 computation.</summary>
    public static (string, bool, string) ErrorOrHalf(Attempt a, ScalarType half, Func<Tensor> reference, double tolerance)
    {
        if (a.Error is not null) return a.IsClearError(half.ToString(), half == ScalarType.Float16 ? "float16" : "bfloat16") ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe());
        if (a.Output!.dtype != half) return ("WRONG", false, $"output dtype {a.Output.dtype}, expected {half}");
        return Agreement(a.Output.to(ScalarType.Float32), reference(), tolerance, "ok (f32 acc)");
    }

    public static (string, bool, string) ErrorRequired(Attempt a, params string[] values) =>
        a.Error is null ? ("ACCEPTED", false, a.Describe())
        : a.IsClearError(values) ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe());

    public static (string, bool, string) ErrorOrFinite(Attempt a, params string[] values) =>
        a.Error is not null ? (a.IsClearError(values) ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe()))
        : a.Output!.isfinite().all().item<bool>() ? ("ok", true, "finite output") : ("SILENT NaN", false, "non-finite output from a finite input");

    public static (string, bool, string) ErrorOrEmpty(Attempt a, params string[] values) =>
        a.Error is not null ? (a.IsClearError(values) ? ("error", true, a.Describe()) : ("UNCLEAR ERROR", false, a.Describe()))
        : a.Output!.numel() == 0 ? ("empty", true, a.Describe()) : ("WRONG", false, a.Describe());

    public static (string, bool, string) Agreement(Tensor actual, Tensor expected, double tolerance, string label)
    {
        if (!actual.shape.SequenceEqual(expected.shape)) return ("WRONG", false, $"shape [{string.Join(", ", actual.shape)}] vs [{string.Join(", ", expected.shape)}]");
        double scale = Math.Max(1, expected.abs().max().to(ScalarType.Float64).item<double>());
        double error = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>() / scale;
        return error <= tolerance ? (label, true, $"max deviation {error:G2}") : ("WRONG", false, $"max deviation {error:G2} > {tolerance:G2}");
    }

}
