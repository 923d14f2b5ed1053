use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    let rocket = match cachelab::rocket() {
        Ok(rocket) => rocket,
        Err(error) => {
            eprintln!("cachelab: {error}");
            return ExitCode::FAILURE;
        }
    };
    match rocket.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cachelab: {error}");
            ExitCode::FAILURE
        }
    }
}
