using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormLab.Cli.Bench;

/// <summary>Prints the benchmark table and writes its JSON.</summary>
internal static class BenchReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The table header.</summary>
    public static void Header(TextWriter w, double copyGbps, int threads, int repeat, string? reference = null)
    {
        w.WriteLine(string.Create(Inv, $"normlab bench: float32, {threads} thread(s), median of {repeat}; memory copy {copyGbps:F1} GB/s (read + write) at the start, and timed with each row for its floor; OpenMP spin count {NormLab.Kernels.ProcessTuning.OpenMpSpinCount() ?? "libgomp's default"}; last-level cache {NormLab.Kernels.Cpu.CacheSize.LastLevelBytes >> 20} MiB ({NormLab.Kernels.Cpu.CacheSize.Source})"));
        w.WriteLine("x native = native/normlab, x composite = composite/normlab (higher is faster); floor % = floor/normlab"
            + (reference is null ? "" : $"; ref = {reference}'s NormLab time on the same shape in the same repetitions, / ref = normlab/ref"));
        w.WriteLine($"{"spec",-22} {"shape",-16} {"pass",-6} {"normlab ms",11} {"native ms",10} {"compos. ms",11} {"floor ms",9} {"x native",9} {"x compos.",10} {"floor %",8} {"copy GB/s",10}"
            + (reference is null ? "" : $" {"ref ms",8} {"/ ref",6}"));
    }

    /// <summary>One table line.</summary>
    public static void Line(TextWriter w, BenchRow r)
    {
        string native = r.NativeMs is { } n ? n.ToString("F2", Inv) : "-";
        string vsNative = r.NativeMs is { } m ? (m / r.NormLabMs).ToString("F2", Inv) : "-";
        w.WriteLine(string.Create(Inv,
            $"{r.Spec,-22} {Shape(r.Shape),-16} {r.Pass.Name(),-6} {r.NormLabMs,11:F2} {native,10} {r.CompositeMs,11:F2} {r.FloorMs,9:F2} {vsNative,9} {r.CompositeMs / r.NormLabMs,10:F2} {100 * r.FloorMs / r.NormLabMs,7:F0}% {r.CopyGbps,10:F1}")
            + (r.ReferenceMs is { } reference ? string.Create(Inv, $" {reference,8:F2} {r.NormLabMs / reference,6:F2}") : ""));
    }

    /// <summary>
    /// The JSON document: <c>{"copy_gbps": x, "rows": [{spec, shape, pass, normlab_ms, native_ms, composite_ms, floor_ms, copy_gbps}]}</c>;
    /// the top-level copy_gbps is the median of the rows'. With a reference, the document also names it
    /// (<c>"reference": spec</c>) and every row has <c>reference_ms</c> (null where the reference could not run on its shape).
    /// </summary>
    public static string Json(IReadOnlyList<BenchRow> rows, string? reference = null)
    {
        var array = new JsonArray();
        foreach (var r in rows)
        {
            var row = new JsonObject
            {
                ["spec"] = r.Spec,
                ["shape"] = new JsonArray(r.Shape.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
                ["pass"] = r.Pass.Name(),
                ["normlab_ms"] = r.NormLabMs,
                ["native_ms"] = r.NativeMs,
                ["composite_ms"] = r.CompositeMs,
                ["floor_ms"] = r.FloorMs,
                ["copy_gbps"] = r.CopyGbps,
            };
            if (reference is not null) row["reference_ms"] = r.ReferenceMs;
            array.Add(row);
        }
        var doc = new JsonObject { ["copy_gbps"] = rows.Count == 0 ? null : BenchRunner.Median(rows.Select(r => r.CopyGbps).ToList()) };
        if (reference is not null) doc["reference"] = reference;
        doc["rows"] = array;
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string Shape(long[] shape) => "[" + string.Join(",", shape) + "]";
}
