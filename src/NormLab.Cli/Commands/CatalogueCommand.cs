using NormLab.Cli.Catalogue;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab catalogue</c>: runs the bad-input catalogue and prints each failing case, a summary line, and
/// optionally the markdown table (<c>--markdown</c>) or every result as JSON (<c>--json FILE</c>). Exits 1
/// when any case shows a behaviour other than its documented one.
/// </summary>
internal static class CatalogueCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("catalogue", args, new HashSet<string> { "markdown" });
        bool markdown = cl.Flag("markdown");
        string? json = cl.Get("json");
        var only = cl.Get("only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        cl.EnsureAllUsed();
        set_num_threads(1);
        var results = BadInputCatalogue.Run(only).ToList();
        if (json is not null) JsonFiles.Write(json, results);
        if (markdown) stdout.Write(BadInputCatalogue.Markdown(results));
        foreach (var r in results.Where(r => !r.Passed))
            stdout.WriteLine($"FAIL {r.Kind} {r.Entry} / {r.Case}: {r.Outcome}: {r.Detail}");
        int failed = results.Count(r => !r.Passed);
        stdout.WriteLine($"catalogue: {results.Select(r => r.Entry).Distinct().Count()} entries, {results.Count} cases, {results.Count - failed} as documented, {failed} not");
        return failed == 0 ? 0 : 1;
    }
}
