using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Where the token signing key comes from: <c>Authentication:SigningKey</c> (base64, at least 256 bits)
/// or <c>Authentication:SigningKeyFile</c>. In Development only, a missing key is generated at first
/// run into <c>~/.brokering/dev-signing-key</c> so every local service shares it; no key is ever
/// checked into the repository.
/// </summary>
public static class SigningKeys
{
    public static SymmetricSecurityKey Load(IConfiguration configuration, IHostEnvironment environment)
    {
        var configured = configuration["Authentication:SigningKey"];
        var file = configuration["Authentication:SigningKeyFile"];
        if (string.IsNullOrEmpty(configured) && !string.IsNullOrEmpty(file))
        {
            configured = File.ReadAllText(file).Trim();
        }

        if (string.IsNullOrEmpty(configured))
        {
            if (!environment.IsDevelopment())
            {
                throw new InvalidOperationException("Authentication:SigningKey (or Authentication:SigningKeyFile) is not configured.");
            }

            configured = DevelopmentKey();
        }

        var bytes = Convert.FromBase64String(configured);
        if (bytes.Length < 32)
        {
            throw new InvalidOperationException("The token signing key must be at least 256 bits.");
        }

        return new SymmetricSecurityKey(bytes) { KeyId = "brokering" };
    }

    /// <summary>A fresh random key, base64.</summary>
    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static string DevelopmentKey()
    {
        var folder = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".brokering");
        var path = Path.Combine(folder, "dev-signing-key");
        Directory.CreateDirectory(folder);
        try
        {
            // CreateNew: when two services start at once, one writes and the other reads.
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            using var writer = new StreamWriter(stream);
            writer.Write(NewKey());
        }
        catch (IOException) when (File.Exists(path))
        {
            // Already generated.
        }

        for (var attempt = 0; ; attempt++)
        {
            var key = File.ReadAllText(path).Trim();
            if (key.Length > 0 || attempt == 20)
            {
                return key;
            }

            Thread.Sleep(50);
        }
    }
}
