//! `ipconform bench`: to be written once the emulator lands.
pub async fn run(_quick: bool) -> Result<String, std::io::Error> {
    Err(std::io::Error::other("bench is not built yet"))
}
