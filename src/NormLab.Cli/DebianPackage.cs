using System.Diagnostics;

namespace NormLab.Cli;

/// <summary>
/// Installs an optional Debian package the first time a command needs it (Fashion-MNIST's
/// <c>dataset-fashion-mnist</c>), so that no manual setup step stands between a fresh machine and a run.
/// It uses <c>apt-get</c> as root, or through <c>sudo -n</c> (never prompting); where neither is possible
/// it reports why and leaves the decision to the caller.
/// </summary>
internal static class DebianPackage
{
    /// <summary>Installs <paramref name="package"/>; returns null on success, otherwise why it could not.</summary>
    /// <param name="package">The Debian package name.</param>
    /// <param name="log">Where the one-line progress notes go.</param>
    public static string? TryInstall(string package, TextWriter log)
    {
        if (!OperatingSystem.IsLinux() || Which("apt-get") is null) return "apt-get is not available on this system";
        bool root = Environment.UserName == "root";
        string? sudo = root ? null : Which("sudo");
        if (!root && sudo is null) return "not running as root and sudo is not available";
        log.WriteLine($"installing the Debian package {package} (apt-get install {package}) ...");
        string? failure = Run(sudo, "apt-get", "install", "-y", "-qq", package);
        if (failure is null) return null;
        // A fresh machine may have empty package lists: refresh them once and retry.
        return Run(sudo, "apt-get", "update", "-qq") ?? Run(sudo, "apt-get", "install", "-y", "-qq", package);
    }

    private static string? Run(string? sudo, params string[] command)
    {
        var start = new ProcessStartInfo(sudo ?? command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (sudo is not null) start.ArgumentList.Add("-n");
        foreach (var arg in sudo is null ? command.Skip(1) : command) start.ArgumentList.Add(arg);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        return process.ExitCode == 0 ? null : $"'{string.Join(' ', command)}' exited with {process.ExitCode}{(last.Length > 0 ? $": {last}" : "")}";
    }

    private static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);
}
