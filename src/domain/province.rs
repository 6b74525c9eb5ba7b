//! The 63 province and city codes that open every personal id (Circular 07/2016/TT-BCA).

/// A province or centrally-run city: its three-digit code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Province {
    pub code: &'static str,
    pub name: &'static str,
}

pub const PROVINCES: [Province; 63] = [
    Province {
        code: "001",
        name: "Hà Nội",
    },
    Province {
        code: "002",
        name: "Hà Giang",
    },
    Province {
        code: "004",
        name: "Cao Bằng",
    },
    Province {
        code: "006",
        name: "Bắc Kạn",
    },
    Province {
        code: "008",
        name: "Tuyên Quang",
    },
    Province {
        code: "010",
        name: "Lào Cai",
    },
    Province {
        code: "011",
        name: "Điện Biên",
    },
    Province {
        code: "012",
        name: "Lai Châu",
    },
    Province {
        code: "014",
        name: "Sơn La",
    },
    Province {
        code: "015",
        name: "Yên Bái",
    },
    Province {
        code: "017",
        name: "Hòa Bình",
    },
    Province {
        code: "019",
        name: "Thái Nguyên",
    },
    Province {
        code: "020",
        name: "Lạng Sơn",
    },
    Province {
        code: "022",
        name: "Quảng Ninh",
    },
    Province {
        code: "024",
        name: "Bắc Giang",
    },
    Province {
        code: "025",
        name: "Phú Thọ",
    },
    Province {
        code: "026",
        name: "Vĩnh Phúc",
    },
    Province {
        code: "027",
        name: "Bắc Ninh",
    },
    Province {
        code: "030",
        name: "Hải Dương",
    },
    Province {
        code: "031",
        name: "Hải Phòng",
    },
    Province {
        code: "033",
        name: "Hưng Yên",
    },
    Province {
        code: "034",
        name: "Thái Bình",
    },
    Province {
        code: "035",
        name: "Hà Nam",
    },
    Province {
        code: "036",
        name: "Nam Định",
    },
    Province {
        code: "037",
        name: "Ninh Bình",
    },
    Province {
        code: "038",
        name: "Thanh Hóa",
    },
    Province {
        code: "040",
        name: "Nghệ An",
    },
    Province {
        code: "042",
        name: "Hà Tĩnh",
    },
    Province {
        code: "044",
        name: "Quảng Bình",
    },
    Province {
        code: "045",
        name: "Quảng Trị",
    },
    Province {
        code: "046",
        name: "Thừa Thiên Huế",
    },
    Province {
        code: "048",
        name: "Đà Nẵng",
    },
    Province {
        code: "049",
        name: "Quảng Nam",
    },
    Province {
        code: "051",
        name: "Quảng Ngãi",
    },
    Province {
        code: "052",
        name: "Bình Định",
    },
    Province {
        code: "054",
        name: "Phú Yên",
    },
    Province {
        code: "056",
        name: "Khánh Hòa",
    },
    Province {
        code: "058",
        name: "Ninh Thuận",
    },
    Province {
        code: "060",
        name: "Bình Thuận",
    },
    Province {
        code: "062",
        name: "Kon Tum",
    },
    Province {
        code: "064",
        name: "Gia Lai",
    },
    Province {
        code: "066",
        name: "Đắk Lắk",
    },
    Province {
        code: "067",
        name: "Đắk Nông",
    },
    Province {
        code: "068",
        name: "Lâm Đồng",
    },
    Province {
        code: "070",
        name: "Bình Phước",
    },
    Province {
        code: "072",
        name: "Tây Ninh",
    },
    Province {
        code: "074",
        name: "Bình Dương",
    },
    Province {
        code: "075",
        name: "Đồng Nai",
    },
    Province {
        code: "077",
        name: "Bà Rịa - Vũng Tàu",
    },
    Province {
        code: "079",
        name: "Hồ Chí Minh",
    },
    Province {
        code: "080",
        name: "Long An",
    },
    Province {
        code: "082",
        name: "Tiền Giang",
    },
    Province {
        code: "083",
        name: "Bến Tre",
    },
    Province {
        code: "084",
        name: "Trà Vinh",
    },
    Province {
        code: "086",
        name: "Vĩnh Long",
    },
    Province {
        code: "087",
        name: "Đồng Tháp",
    },
    Province {
        code: "089",
        name: "An Giang",
    },
    Province {
        code: "091",
        name: "Kiên Giang",
    },
    Province {
        code: "092",
        name: "Cần Thơ",
    },
    Province {
        code: "093",
        name: "Hậu Giang",
    },
    Province {
        code: "094",
        name: "Sóc Trăng",
    },
    Province {
        code: "095",
        name: "Bạc Liêu",
    },
    Province {
        code: "096",
        name: "Cà Mau",
    },
];

/// The province with this three-digit code, if there is one.
pub fn province_by_code(code: &str) -> Option<&'static Province> {
    // Sorted by code (a test below checks): this runs for every personal id parsed.
    PROVINCES
        .binary_search_by(|p| p.code.cmp(code))
        .ok()
        .map(|i| &PROVINCES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_63_distinct_sorted_codes() {
        let mut codes: Vec<_> = PROVINCES.iter().map(|p| p.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), 63);
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(province_by_code("079").map(|p| p.name), Some("Hồ Chí Minh"));
        assert!(province_by_code("003").is_none());
    }
}
