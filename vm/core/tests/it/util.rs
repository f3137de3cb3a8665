//! Helpers: WAT contracts with the ABI version section, and a tiny chain.

use supervm_vm::abi::{ABI_VERSION, ABI_VERSION_SECTION, HOST_FNS, IMPORT_MODULE};
use supervm_vm::{
    Address, BlockEnv, CodeSource, InMemoryState, Payload, Receipt, Transaction, Vm, VmConfig,
};
use wasm_encoder::Section;

/// Appends a custom section to a module.
pub fn with_custom(mut wasm: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    wasm_encoder::CustomSection {
        name: name.into(),
        data: data.into(),
    }
    .append_to(&mut wasm);
    wasm
}

/// Appends the ABI version section.
pub fn with_abi(wasm: Vec<u8>) -> Vec<u8> {
    with_custom(wasm, ABI_VERSION_SECTION, &ABI_VERSION.to_le_bytes())
}

/// The `(import ...)` line of a host function, from the ABI table.
pub fn import(name: &str) -> String {
    let f = HOST_FNS.iter().find(|f| f.name == name).expect("host fn");
    let params: Vec<&str> = f.params.iter().map(|(_, t)| *t).collect();
    let result = if f.result == "()" {
        String::new()
    } else {
        format!("(result {})", f.result)
    };
    format!(
        "(import \"{IMPORT_MODULE}\" \"{name}\" (func ${name} (param {}) {result}))",
        params.join(" ")
    )
}

/// Compiles a WAT module body (imports of every host function named in `uses` are
/// prepended) and adds the ABI section.
pub fn contract(uses: &[&str], body: &str) -> Vec<u8> {
    let imports: Vec<String> = uses.iter().map(|u| import(u)).collect();
    let src = format!("(module {} {body})", imports.join("\n"));
    with_abi(wat::parse_str(&src).unwrap_or_else(|e| panic!("bad WAT: {e}\n{src}")))
}

/// A chain for tests.
pub struct Chain {
    pub vm: Vm,
    pub state: InMemoryState,
    pub block: BlockEnv,
    pub sender: Address,
    pub salt: u64,
}

impl Chain {
    pub fn new() -> Self {
        Chain {
            vm: Vm::new(VmConfig::default()).unwrap(),
            state: InMemoryState::new(),
            block: BlockEnv {
                height: 7,
                timestamp_ms: 1_700_000_000_000,
                chain_id: 42,
            },
            sender: Address([1; 32]),
            salt: 0,
        }
    }

    pub fn run(&mut self, payload: Payload, gas: u64) -> Receipt {
        let tx = Transaction {
            sender: self.sender,
            gas_limit: gas,
            payload,
        };
        let r = self.vm.execute(&self.state, &self.block, &tx).unwrap();
        self.state.apply(&r.write_set);
        r
    }

    pub fn deploy(&mut self, wasm: Vec<u8>) -> Receipt {
        self.salt += 1;
        let mut salt = [0; 32];
        salt[..8].copy_from_slice(&self.salt.to_le_bytes());
        self.run(
            Payload::Deploy {
                code: CodeSource::Wasm(wasm),
                salt,
                init_args: vec![],
            },
            1_000_000_000,
        )
    }

    pub fn deploy_ok(&mut self, wasm: Vec<u8>) -> Address {
        let r = self.deploy(wasm);
        assert!(r.outcome.is_success(), "deploy failed: {:?}", r.outcome);
        r.contract.unwrap()
    }

    /// Calls a no-argument entry point that must succeed; its return data.
    pub fn call_ok(&mut self, contract: Address, function: &str, gas: u64) -> Vec<u8> {
        let r = self.call(contract, function, vec![], gas);
        assert_eq!(
            r.outcome,
            supervm_vm::Outcome::Success,
            "{function}: {:?}",
            r.outcome
        );
        r.return_data
    }

    pub fn call(&mut self, contract: Address, function: &str, args: Vec<u8>, gas: u64) -> Receipt {
        self.run(
            Payload::Call {
                contract,
                function: function.into(),
                args,
            },
            gas,
        )
    }
}

/// A number from the environment (`SUPERVM_SEED`, case counts): [`supervm_vm::env_number`].
pub fn env_u64(name: &str) -> Option<u64> {
    supervm_vm::env_number(name)
}

/// The outcome of a trap in a frame of `contract`: receipts name the contract whose
/// frame trapped before the reason.
pub fn trap_in(contract: supervm_vm::Address, reason: &str) -> supervm_vm::Outcome {
    let hex: String = contract.0.iter().map(|b| format!("{b:02x}")).collect();
    supervm_vm::Outcome::Trap {
        reason: format!("in contract 0x{hex}: {reason}"),
    }
}
