using System.Text.Json;
using System.Text.Json.Serialization;
using NormLab.IO;

namespace NormLab.Cli;

/// <summary>Writes JSON results atomically, with infinities and NaN as "Infinity"/"NaN" strings.</summary>
internal static class JsonFiles
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Serializes <paramref name="value"/> to <paramref name="path"/>, creating its directory.</summary>
    public static void Write(string path, object value)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.WriteText(path, JsonSerializer.Serialize(value, Options));
    }
}
