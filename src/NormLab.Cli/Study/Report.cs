using System.Text.Json;
using System.Globalization;
using System.Net;
using System.Text;
using NormLab.IO;

namespace NormLab.Cli.Study;

/// <summary>What the study was run on, for the report's header and results.json.</summary>
internal sealed record StudyInfo(string Data, string Scale, long Seed, int Threads, string Started, double Seconds, string Machine);

/// <summary>
/// Writes the study's outputs into its directory: one PNG per figure, one CSV per experiment,
/// results.json (every number, and per experiment the claim, whether it held and the values behind it),
/// report.md and a self-contained report.html with the figures embedded.
/// </summary>
internal static class Report
{
    public static void Write(string directory, StudyInfo info, IReadOnlyList<ExperimentResult> results)
    {
        foreach (var r in results)
        {
            foreach (var f in r.Figures) Plots.Render(f, Path.Combine(directory, PngName(r, f)));
            if (r.Tables.Count > 0) AtomicFile.WriteText(Path.Combine(directory, $"{r.Id.ToLowerInvariant()}.csv"), Csv(r));
        }
        JsonFiles.Write(Path.Combine(directory, "results.json"), new Dictionary<string, object>
        {
            ["study"] = info,
            ["claims"] = results.Select(r => new { id = r.Id, claim = r.Claim, held = r.Held, finding = r.Finding }).ToArray(),
            ["experiments"] = results,
        });
        AtomicFile.WriteText(Path.Combine(directory, "report.md"), Markdown(info, results));
        AtomicFile.WriteText(Path.Combine(directory, "report.html"), Html(directory, info, results));
    }

    public static string PngName(ExperimentResult r, Figure f) => $"{r.Id.ToLowerInvariant()}-{f.Name}.png";

    private static string Csv(ExperimentResult r)
    {
        var sb = new StringBuilder();
        foreach (var t in r.Tables)
        {
            sb.AppendLine(string.Join(",", new[] { "table" }.Concat(t.Columns).Select(Quote)));
            foreach (var row in t.Rows) sb.AppendLine(string.Join(",", new[] { t.Name }.Concat(row.Select(Cell)).Select(Quote)));
        }
        return sb.ToString();
    }

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>A cell as text: numbers with 4 significant digits (6 for large ones), invariant culture.</summary>
    public static string Cell(object? value) => value switch
    {
        null => "",
        double d when double.IsNaN(d) => "NaN",
        double d when Math.Abs(d) >= 1e5 || (Math.Abs(d) < 1e-3 && d != 0) => d.ToString("0.###e+0", CultureInfo.InvariantCulture),
        double d => d.ToString("G4", CultureInfo.InvariantCulture),
        float f => Cell((double)f),
        bool b => b ? "yes" : "no",
        // A result read back from the cache holds its cells as JSON elements.
        JsonElement { ValueKind: JsonValueKind.Number } j => Cell(j.GetDouble()),
        JsonElement { ValueKind: JsonValueKind.True or JsonValueKind.False } j => Cell(j.GetBoolean()),
        JsonElement { ValueKind: JsonValueKind.String } j => j.GetString() ?? "",
        JsonElement { ValueKind: JsonValueKind.Null } => "",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Markdown(StudyInfo info, IReadOnlyList<ExperimentResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# NormLab study: what normalization does");
        sb.AppendLine();
        sb.AppendLine($"Data: **{info.Data}**{(info.Scale == "full" ? "" : $" ({info.Scale})")}, seed {info.Seed}, {info.Threads} threads, {info.Seconds:F0} s, {info.Started}, {info.Machine}.");
        sb.AppendLine();
        sb.AppendLine("| experiment | claim | held | finding |");
        sb.AppendLine("|---|---|---|---|");
        foreach (var r in results) sb.AppendLine($"| {r.Id} {r.Title} | {r.Claim} | {(r.Held ? "yes" : "**no**")} | {r.Finding} |");
        foreach (var r in results)
        {
            sb.AppendLine();
            sb.AppendLine($"## {r.Id}. {r.Title}");
            sb.AppendLine();
            sb.AppendLine($"**Claim.** {r.Claim}  ");
            sb.AppendLine($"**Finding.** {r.Finding} The claim {(r.Held ? "held" : "did not hold")}.");
            foreach (var f in r.Figures)
            {
                sb.AppendLine();
                sb.AppendLine($"![{f.Title}]({PngName(r, f)})");
            }
            foreach (var t in r.Tables)
            {
                sb.AppendLine();
                sb.AppendLine($"*{t.Caption}*");
                sb.AppendLine();
                sb.AppendLine("| " + string.Join(" | ", t.Columns) + " |");
                sb.AppendLine("|" + string.Concat(t.Columns.Select(_ => "---|")));
                foreach (var row in t.Rows) sb.AppendLine("| " + string.Join(" | ", row.Select(Cell)) + " |");
            }
        }
        return sb.ToString();
    }

    private static string Html(string directory, StudyInfo info, IReadOnlyList<ExperimentResult> results)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>NormLab study</title><style>");
        sb.AppendLine("body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}");
        sb.AppendLine("h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}");
        sb.AppendLine("table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}");
        sb.AppendLine(".held{color:#176f2c;font-weight:600}.failed{color:#b00020;font-weight:600}.meta{color:#666}table.claims td,table.claims th{text-align:left;vertical-align:top}.finding{background:#f6f8fa;border-left:4px solid #4a7;padding:.5em 1em}.finding.no{border-left-color:#c33}");
        sb.AppendLine("img{max-width:100%;border:1px solid #eee;margin:.5em 0}caption{caption-side:top;text-align:left;font-style:italic;color:#555;padding-bottom:.3em}");
        sb.AppendLine("</style></head><body>");
        sb.AppendLine("<h1>NormLab study: what normalization does</h1>");
        sb.AppendLine($"<p class=\"meta\">Data: <b>{E(info.Data)}</b>{(info.Scale == "full" ? "" : $" ({info.Scale})")} · seed {info.Seed} · {info.Threads} threads · {info.Seconds:F0} s · {E(info.Started)} · {E(info.Machine)}</p>");
        sb.AppendLine("<table class=\"claims\"><caption>The survey's claims, measured</caption><tr><th>experiment</th><th>claim</th><th>held</th><th>finding</th></tr>");
        foreach (var r in results)
            sb.AppendLine($"<tr><td><a href=\"#{r.Id}\">{r.Id}</a> {E(r.Title)}</td><td>{E(r.Claim)}</td><td class=\"{(r.Held ? "held" : "failed")}\">{(r.Held ? "yes" : "no")}</td><td>{E(r.Finding)}</td></tr>");
        sb.AppendLine("</table>");
        foreach (var r in results)
        {
            sb.AppendLine($"<h2 id=\"{r.Id}\">{r.Id}. {E(r.Title)}</h2>");
            sb.AppendLine($"<p><b>Claim.</b> {E(r.Claim)}</p>");
            sb.AppendLine($"<p class=\"finding{(r.Held ? "" : " no")}\"><b>Finding.</b> {E(r.Finding)} <span class=\"{(r.Held ? "held" : "failed")}\">The claim {(r.Held ? "held" : "did not hold")}.</span></p>");
            foreach (var f in r.Figures)
            {
                var png = File.ReadAllBytes(Path.Combine(directory, PngName(r, f)));
                sb.AppendLine($"<img alt=\"{E(f.Title)}\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\">");
            }
            foreach (var t in r.Tables)
            {
                sb.AppendLine($"<table><caption>{E(t.Caption)}</caption><tr>{string.Concat(t.Columns.Select(c => $"<th>{E(c)}</th>"))}</tr>");
                foreach (var row in t.Rows) sb.AppendLine($"<tr>{string.Concat(row.Select(v => $"<td>{E(Cell(v))}</td>"))}</tr>");
                sb.AppendLine("</table>");
            }
            sb.AppendLine($"<p class=\"meta\">{r.Id} took {r.Seconds:F0} s.</p>");
        }
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }
}
