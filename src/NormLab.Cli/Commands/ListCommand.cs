using NormLab.Registry;

namespace NormLab.Cli.Commands;

/// <summary><c>normlab list</c>: every registered method with its spec keys, paper and formula.</summary>
internal static class ListCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("list", args, new HashSet<string>());
        cl.EnsureAllUsed();
        Print(stdout, "Normalizers (NormRegistry; normlab apply --norm SPEC)", NormRegistry.Entries);
        Print(stdout, "Weight normalizers (WeightNormRegistry; normlab apply --weight-norm SPEC)", WeightNormRegistry.Entries);
        Print(stdout, "Optimizers (OptimizerRegistry; normlab step --optim SPEC)", OptimizerRegistry.Entries);
        return 0;
    }

    private static void Print<TContext, TResult>(TextWriter w, string title, IEnumerable<SpecEntry<TContext, TResult>> entries)
    {
        w.WriteLine(title);
        w.WriteLine(new string('=', title.Length));
        foreach (var e in entries)
        {
            string aliases = e.Aliases.Count > 0 ? $" (aliases: {string.Join(", ", e.Aliases)})" : "";
            w.WriteLine($"{e.Name}{aliases}: {e.Summary}");
            w.WriteLine($"  spec:    {e.Name}({string.Join(",", e.Keys.Select(k => k.ToString()))})");
            foreach (var k in e.Keys) w.WriteLine($"           {k.Name}: {k.Doc}");
            w.WriteLine($"  paper:   {e.Paper}");
            w.WriteLine($"  formula: {e.Formula}");
        }
        w.WriteLine();
    }
}
