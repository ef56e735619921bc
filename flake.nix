{
  description = "Codex Pooler: a self-hosted gateway that pools ChatGPT/Codex accounts for Codex CLI";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";
    # nodejs_24 (the LTS the suite also runs on) is packaged from nixos-25.05 on.
    nixpkgs-node24.url = "github:NixOS/nixpkgs/nixos-25.11";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { nixpkgs, nixpkgs-node24, flake-utils, ... }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = nixpkgs.legacyPackages.${system};
        shell = nodejs: pkgs.mkShell {
          packages = [ nodejs pkgs.postgresql_15 pkgs.zstd ];
          shellHook = ''
            export PATH="$PWD/node_modules/.bin:$PATH"
          '';
        };
      in
      {
        devShells.default = shell pkgs.nodejs_20;
        devShells.node24 = shell nixpkgs-node24.legacyPackages.${system}.nodejs_24;
      });
}
