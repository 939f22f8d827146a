namespace NormLab.Tests.Support;

/// <summary>Runs the normlab command in-process (or, with <see cref="RunProcess"/>, as its own process) and captures its streams.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = NormLab.Cli.Cli.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Runs <c>dotnet normlab.dll ARGS</c> as a child process with these environment changes (null removes a
    /// variable; no dictionary changes nothing), for what only a fresh process shows: startup settings,
    /// aborts, native memory. Throws <see cref="TimeoutException"/> (the test fails) after <paramref name="timeout"/>.
    /// </summary>
    public static Result RunProcess(IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(System.IO.Path.Combine(AppContext.BaseDirectory, "normlab.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"normlab {string.Join(" ", args)} did not finish within {timeout}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A fresh temporary directory, deleted on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir() => Directory.CreateDirectory(Path);
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "normlab-test-" + Guid.NewGuid().ToString("N")[..12]);
        public string this[string name] => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }
}
