using NormLab.Cli.Commands;
using NormLab.IO;
using NormLab.Registry;

namespace NormLab.Cli;

/// <summary>The <c>normlab</c> command: dispatches to subcommands and turns every failure into one line on stderr.</summary>
public static class Cli
{
    private static readonly (string Name, string Usage, Func<string[], TextWriter, int> Run)[] Commands =
    {
        ("study", "normlab study [--data synthetic|fashion-mnist] [--quick | --scale tiny|quick|full] [--only E1,E3] [--seed N] [--out DIR] [--threads K]", StudyCommand.Run),
        ("list", "normlab list", ListCommand.Run),
        ("apply", "normlab apply (--norm SPEC | --weight-norm SPEC) --input X.npy --out DIR [--mode train|eval] [--grad-out G.npy] [--state KEY=FILE.npy ...] [--dtype float64|float32] [--cond C.npy]", ApplyCommand.Run),
        ("analyze", "normlab analyze conditioning --input X.npy [--centered] --json OUT | hessian --model linear --input X.npy --target Y.npy [--top-k K] [--trace] [--density] --json OUT | hessian --model mlp|cnn (--norm SPEC | --checkpoint FILE) [--data synthetic|fashion-mnist] [--samples N] [--mode train|eval] [--top-k K] [--trace] [--density] --json OUT | snd --norm SPEC --input X.npy --batch-size B [--samples S] [--probe P] [--seed N] --json OUT", AnalyzeCommand.Run),
        ("train", "normlab train --model mlp|cnn --norm SPEC --optim SPEC [--weight-norm SPEC] [--data synthetic|fashion-mnist] [--batch-size B] [--epochs E] [--limit N] [--widths W1,W2,...] [--cosine] [--warmup STEPS] [--monitor EVERY] [--seed N] [--threads K] [--record-every K] [--out DIR]   (under mpirun -np P: data-parallel, B per process)", TrainCommand.Run),
        ("mpi", "mpirun -np P normlab mpi [--length N] [--repeat R]   (checks the MPI setup: collectives on every rank)", MpiCommand.Run),
        ("step", "normlab step --optim SPEC --param NAME=P.npy ... --grad NAME=G.npy ... [--state NAME.KEY=FILE.npy ...] [--step-count T] --out DIR", StepCommand.Run),
        ("catalogue", "normlab catalogue [--only NAMES] [--markdown] [--json FILE]   (the bad-input catalogue over every registry entry; docs/RELIABILITY.md)", CatalogueCommand.Run),
        ("memcheck", "normlab memcheck [--steps 3000] [--hvp 1000] [--norms bn,gn(groups=4),weight:wn,...] [--json FILE]   (fails when resident memory grows by 50 MB or more)", MemcheckCommand.Run),
        ("bench", "normlab bench [--only SPECS] [--shape N,C,H,W] [--threads K] [--repeat R] [--reference SPEC] [--json FILE]", BenchCommand.Run),
    };

    /// <summary>Runs a command line; returns the exit code (0 success, 1 failure, 2 usage error).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.WriteLine("normlab: the normalization toolkit for TorchSharp. Commands:");
            foreach (var c in Commands) stdout.WriteLine("  " + c.Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command.Run is null)
        {
            stderr.WriteLine($"normlab: unknown command '{args[0]}'; valid: {string.Join(", ", Commands.Select(c => c.Name))}");
            return 2;
        }
        try
        {
            return command.Run(args[1..], stdout);
        }
        catch (UsageException e) { return Fail(stderr, $"normlab {e.Message}", 2); }
        catch (SpecException e) { return Fail(stderr, $"normlab {command.Name}: {e.Message}", 2); }
        catch (NpyFormatException e) { return Fail(stderr, $"normlab {command.Name}: {e.Message}", 1); }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException or NotSupportedException)
        {
            return Fail(stderr, $"normlab {command.Name}: {e.Message}", 1);
        }
    }

    private static int Fail(TextWriter stderr, string message, int code)
    {
        stderr.WriteLine(OneLine(message));
        return code;
    }

    /// <summary>Collapses a message to one line.</summary>
    public static string OneLine(string message) =>
        string.Join(" ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
