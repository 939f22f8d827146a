using System.Text;
using NormLab.Registry;

namespace NormLab.Cli.Catalogue;

/// <summary>
/// The bad-input catalogue: every entry of the three registries against the cases of its kind
/// (<see cref="NormalizerCases"/>, <see cref="WeightNormCases"/>, <see cref="OptimizerCases"/>).
/// <c>normlab catalogue</c> runs it (tests run that command in a child process, so a LibTorch abort
/// fails a test instead of killing the test host) and renders the table in docs/RELIABILITY.md.
/// </summary>
internal static class BadInputCatalogue
{
    /// <summary>Runs every case of every entry whose name is in <paramref name="only"/> (all when null).</summary>
    public static IEnumerable<CaseResult> Run(ISet<string>? only = null)
    {
        bool Selected(string name) => only is null || only.Contains(name);
        var kinds = new (string Kind, IEnumerable<string> Entries, string[] Cases, Func<string, string, (string, bool, string)> Run)[]
        {
            ("normalizer", NormRegistry.Entries.Select(e => e.Name), NormalizerCases.Names, NormalizerCases.RunCase),
            ("weight normalizer", WeightNormRegistry.Entries.Select(e => e.Name), WeightNormCases.Names, WeightNormCases.RunCase),
            ("optimizer", OptimizerRegistry.Entries.Select(e => e.Name), OptimizerCases.Names, OptimizerCases.RunCase),
        };
        foreach (var (kind, entries, cases, run) in kinds)
            foreach (var name in entries.Where(Selected))
                foreach (var caseName in cases)
                {
                    using var scope = TorchSharp.torch.NewDisposeScope();
                    var (outcome, passed, detail) = run(name, caseName);
                    yield return new CaseResult(kind, name, caseName, outcome, passed, detail);
                }
    }

    /// <summary>Every registry entry's name, by kind: what the catalogue must cover.</summary>
    public static IEnumerable<(string Kind, string Name)> Entries() =>
        NormRegistry.Entries.Select(e => ("normalizer", e.Name))
            .Concat(WeightNormRegistry.Entries.Select(e => ("weight normalizer", e.Name)))
            .Concat(OptimizerRegistry.Entries.Select(e => ("optimizer", e.Name)));

    /// <summary>One markdown table per kind: rows are entries, columns cases, cells outcomes (failures in bold).</summary>
    public static string Markdown(IReadOnlyList<CaseResult> results)
    {
        var sb = new StringBuilder();
        foreach (var kind in results.Select(r => r.Kind).Distinct())
        {
            var rows = results.Where(r => r.Kind == kind).ToList();
            var cases = rows.Select(r => r.Case).Distinct().ToList();
            sb.AppendLine($"### {char.ToUpperInvariant(kind[0])}{kind[1..]}s ({rows.Select(r => r.Entry).Distinct().Count()} entries × {cases.Count} cases)").AppendLine();
            sb.AppendLine($"| entry | {string.Join(" | ", cases)} |");
            sb.AppendLine($"|---|{string.Concat(cases.Select(_ => "---|"))}");
            foreach (var entry in rows.Select(r => r.Entry).Distinct())
                sb.AppendLine($"| {entry} | {string.Join(" | ", cases.Select(c => rows.First(r => r.Entry == entry && r.Case == c)).Select(r => r.Passed ? r.Outcome : $"**{r.Outcome}**"))} |");
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
