namespace NormLab.Cli;

/// <summary>The process's resident set size, read from <c>/proc/self/status</c> (Linux).</summary>
internal static class ResidentMemory
{
    /// <summary>VmRSS in MB (2^20 bytes), after a full garbage collection (so managed garbage, which the GC may keep for a while, is not counted as native growth).</summary>
    /// <exception cref="NotSupportedException">no /proc/self/status (not Linux).</exception>
    public static double Megabytes()
    {
        const string path = "/proc/self/status";
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (!File.Exists(path)) throw new NotSupportedException($"memcheck needs {path} (Linux) to read the resident memory");
        foreach (var line in File.ReadLines(path))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        throw new NotSupportedException($"{path} has no VmRSS line");
    }
}
